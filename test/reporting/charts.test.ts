import { test } from "node:test";
import assert from "node:assert/strict";
import sharp from "sharp";
import { chartSpecs, renderSvg, svgToPng } from "../../src/reporting/charts.js";
import { summarizeResults } from "../../src/reporting/summary.js";
import { fakeResults } from "./fake_results.js";

test("one heatmap and one per-task chart per group, then the two comparisons", () => {
  const names = chartSpecs(summarizeResults(fakeResults())).map((chart) => chart.name);
  assert.deepEqual(names, [
    "heatmap-replay-m100",
    "per-task-replay-m100",
    "heatmap-fine-tuning",
    "per-task-fine-tuning",
    "average-accuracy",
    "forgetting",
  ]);
});

test("updater names that clash as file names still get distinct chart names", () => {
  const results = fakeResults();
  results.runs[1]!.updater = "a/b";
  results.runs[1]!.memorySize = null;
  results.runs[2]!.updater = "a:b";
  const names = chartSpecs(summarizeResults(results)).map((chart) => chart.name);
  assert.equal(new Set(names).size, names.length, names.join(", "));
  assert.ok(names.includes("heatmap-a_b") && names.includes("heatmap-a_b-2"), names.join(", "));
});

test("long legend labels are printed whole, so memory sizes stay distinguishable", async () => {
  const results = fakeResults();
  for (const run of results.runs) run.updater = "repeated-distillation-with-a-long-name";
  results.runs[2]!.memorySize = 2000;
  const chart = chartSpecs(summarizeResults(results)).find((c) => c.name === "average-accuracy")!;
  const svg = await renderSvg(chart.spec);
  for (const label of ["repeated-distillation-with-a-long-name (m=100)", "repeated-distillation-with-a-long-name (m=2000)"]) {
    assert.ok(svg.includes(`>${label}</text>`), `legend shows ${label}`);
  }
});

test("the PNG is the SVG at twice its size", async () => {
  const chart = chartSpecs(summarizeResults(fakeResults())).find((c) => c.name === "forgetting")!;
  const svg = await renderSvg(chart.spec);
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)?.[1]);
  const height = Number(/<svg[^>]* height="(\d+)"/.exec(svg)?.[1]);
  assert.ok(width > 100 && height > 100, `svg size ${width}x${height}`);
  const meta = await sharp(await svgToPng(svg)).metadata();
  assert.equal(meta.format, "png");
  assert.equal(meta.width, 2 * width);
  assert.equal(meta.height, 2 * height);
});

test("comparison charts draw a mean +/- std band for groups with several seeds, clipped to [0, 1] for accuracy", async () => {
  const summary = summarizeResults(fakeResults());
  const replay = summary.groups.find((g) => g.updater === "replay")!;
  // Seeds 1 and 2 end at average accuracy 0.75 and 0.7 (summary.test.ts): sample std 0.0354.
  assert.ok(Math.abs(replay.perUpdateStd.averageAccuracy.at(-1)! - Math.SQRT1_2 * 0.05) < 1e-9);
  assert.deepEqual(summary.groups.find((g) => g.updater === "fine-tuning")!.perUpdateStd.averageAccuracy, [0, 0]);
  const chart = chartSpecs(summary).find((c) => c.name === "average-accuracy")!;
  const svg = await renderSvg(chart.spec);
  assert.match(svg, /mark-area/, "the band is drawn");
  const values = (chart.spec as { data: { values: Array<{ low: number; high: number }> } }).data.values;
  assert.ok(values.every((v) => v.low >= 0 && v.high <= 1 && v.low <= v.high));

  // One seed per group: no band at all.
  const single = fakeResults();
  single.runs = single.runs.filter((run) => run.seed !== 2);
  const plain = await renderSvg(chartSpecs(summarizeResults(single)).find((c) => c.name === "average-accuracy")!.spec);
  assert.doesNotMatch(plain, /mark-area/);
});
