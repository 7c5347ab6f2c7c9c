import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, renderReportHtml } from "../../src/reporting/html.js";
import { CLASS_INCREMENTAL_FWT_NOTE, summarizeResults } from "../../src/reporting/summary.js";
import { fakeResults } from "./fake_results.js";

const fakeChart = {
  name: "forgetting",
  title: "Forgetting over updates",
  svg: '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>hi</text></svg>',
};

test("escapeHtml escapes the five special characters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

test("names from the results are escaped, never injected as markup", () => {
  const results = fakeResults();
  results.runs[2]!.updater = "<script>alert(1)</script>";
  results.dataset = "mnist & co";
  const html = renderReportHtml(summarizeResults(results), []);
  assert.doesNotMatch(html, /<script/);
  assert.ok(html.includes("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
  assert.ok(html.includes("<title>Benchmark: mnist &amp; co, class-incremental</title>"));
});

test("settings, model and comparison table are in the report", () => {
  const html = renderReportHtml(summarizeResults(fakeResults()), []);
  for (const text of ["<th>backend</th><td>cpu</td>", "<th>batch size</th><td>4</td>", "<th>tasks</th><td>2</td>"]) {
    assert.ok(html.includes(text), text);
  }
  assert.ok(html.includes("&quot;type&quot;: &quot;mlp&quot;"), "model spec as JSON");
  assert.ok(html.includes('<td class="num">0.725 ± 0.035</td>'));
  assert.ok(html.includes('<td class="num">n/a</td>'), "fine-tuning has no FWT");
});

test("charts are inlined without their XML declaration, linked only when files exist", () => {
  const summary = summarizeResults(fakeResults());
  const linked = renderReportHtml(summary, [fakeChart], { chartsFolder: "charts", pngs: true, dataFiles: ["a.csv"] });
  assert.ok(linked.includes('<svg xmlns="http://www.w3.org/2000/svg"><text>hi</text></svg>'));
  assert.doesNotMatch(linked, /<\?xml/);
  assert.ok(linked.includes('href="charts/forgetting.svg"') && linked.includes('href="charts/forgetting.png"'));
  assert.ok(linked.includes('<a href="a.csv">a.csv</a>'));
  const bare = renderReportHtml(summary, [fakeChart], { chartsFolder: "charts" });
  assert.ok(bare.includes('href="charts/forgetting.svg"') && !bare.includes(".png"));
  const none = renderReportHtml(summary, [fakeChart]);
  assert.ok(!none.includes("href=") && none.includes("<svg"));
});

test("the report explains FWT under a class-incremental table and shows one-seed rows without a spread", () => {
  const html = renderReportHtml(summarizeResults(fakeResults()), []);
  assert.ok(html.includes(`<p class="note">${escapeHtml(CLASS_INCREMENTAL_FWT_NOTE)}</p>`));
  assert.ok(html.includes('<td class="num">0.625</td>'), "fine-tuning (seed 7 only): its value alone");
  assert.doesNotMatch(html, /<td class="num">0\.625 ±/);
  // One-seed phase times too.
  const single = fakeResults();
  single.runs = single.runs.filter((run) => run.seed === 1);
  assert.doesNotMatch(renderReportHtml(summarizeResults(single), []), /± 0\.000/);
});
