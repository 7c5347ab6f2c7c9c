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

type ChartRow = { update: number; task: number; taskName: string; accuracy: number };
const rowsOf = (spec: unknown): ChartRow[] => (spec as { data: { values: ChartRow[] } }).data.values;

test("tasks not trained yet are blank in the heatmap, not accuracy 0 (no cell, no text)", async () => {
  const results = fakeResults();
  results.tasks = 3;
  for (const run of results.runs) {
    // A class-incremental matrix: a task scores 0 until its update trains it.
    run.accuracyMatrix = [
      [0.9, 0, 0],
      [0.5, 0.8, 0],
      [0.4, 0.6, 0.7],
    ];
    run.testSizes = [10, 10, 10];
    run.initAccuracy = [0.1, 0.1, 0.1];
    run.negativeFlipRates = [0.1, 0.1];
    run.updateSeconds = [1, 1, 1];
    if (run.phaseSeconds) run.phaseSeconds = { expert: [1, 1, 1], consolidation: [1, 1, 1] };
  }
  const chart = chartSpecs(summarizeResults(results)).find((c) => c.name === "heatmap-fine-tuning")!;
  assert.deepEqual(
    rowsOf(chart.spec).map((r) => [r.update, r.task]),
    [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]],
    "only the lower triangle: update t + 1 has trained tasks 0..t",
  );
  const svg = await renderSvg(chart.spec);
  // One text mark per trained cell, none reads 0.00.
  const texts = [...svg.matchAll(/>(\d\.\d\d)</g)].map((m) => m[1]);
  assert.deepEqual(texts.sort(), ["0.40", "0.50", "0.60", "0.70", "0.80", "0.90"]);
  assert.match(svg, /blank: task not trained yet/);
  // Every task still has its column and every update its row.
  for (const label of [">0<", ">1<", ">2<", ">3<"]) assert.ok(svg.includes(label), `axis label ${label}`);
});

test("per-task lines start at the update that trains their task", () => {
  const chart = chartSpecs(summarizeResults(fakeResults())).find((c) => c.name === "per-task-replay-m100")!;
  const rows = rowsOf(chart.spec);
  assert.deepEqual(rows.filter((r) => r.task === 0).map((r) => r.update), [1, 2]);
  assert.deepEqual(rows.filter((r) => r.task === 1).map((r) => r.update), [2], "task 1 has no point at update 1");
});

test("tasks are named by their classes, by class name where the data set has names", async () => {
  const results = fakeResults();
  results.classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress"];
  for (const run of results.runs) run.taskClasses = [[1, 0], [3, 2]];
  const summary = summarizeResults(results);
  assert.deepEqual(summary.groups[0]!.taskNames, ["0: Trouser, T-shirt/top", "1: Dress, Pullover"]);
  const charts = chartSpecs(summary);
  const heatmap = await renderSvg(charts.find((c) => c.name === "heatmap-replay-m100")!.spec);
  assert.ok(heatmap.includes(">0: Trouser, T-shirt/top<") && heatmap.includes(">1: Dress, Pullover<"), "heatmap axis names the classes");
  const lines = await renderSvg(charts.find((c) => c.name === "per-task-replay-m100")!.spec);
  assert.ok(lines.includes(">1: Dress, Pullover<"), "the legend names the classes");

  // Without names, the labels; seeds that ordered the classes differently, or tasks sharing classes: the index alone.
  delete results.classNames;
  assert.deepEqual(summarizeResults(results).groups[0]!.taskNames, ["0: 1, 0", "1: 3, 2"]);
  results.runs[1]!.taskClasses = [[0, 2], [1, 3]];
  assert.deepEqual(summarizeResults(results).groups[0]!.taskNames, ["0", "1"], "replay's seeds disagree");
  assert.deepEqual(summarizeResults(results).groups[1]!.taskNames, ["0: 1, 0", "1: 3, 2"], "fine-tuning has one seed");
  for (const run of results.runs) run.taskClasses = [[0, 1, 2, 3], [0, 1, 2, 3]];
  assert.deepEqual(summarizeResults(results).groups[0]!.taskNames, ["0", "1"], "permuted-like tasks share every class");
});
