import { test } from "node:test";
import assert from "node:assert/strict";
import { DataError } from "../../src/errors.js";
import {
  CLASS_INCREMENTAL_FWT_NOTE,
  comparisonNotes,
  formatComparisonTable,
  formatMeanStd,
  meanAndStd,
  summarizeResults,
  summaryToMarkdown,
} from "../../src/reporting/summary.js";
import type { MeanStd } from "../../src/reporting/summary.js";
import { fakeResults } from "./fake_results.js";

function close(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${what} = ${actual}, expected ${expected}`);
}

function closeMeanStd(actual: MeanStd | undefined, mean: number, std: number, what: string): void {
  assert.ok(actual !== undefined, `${what} is missing`);
  close(actual.mean, mean, `${what}.mean`);
  close(actual.std, std, `${what}.std`);
}

function closeSeries(actual: readonly number[] | undefined, expected: readonly number[], what: string): void {
  assert.ok(actual !== undefined, `${what} is missing`);
  assert.equal(actual.length, expected.length, `${what} length`);
  expected.forEach((value, t) => {
    if (Number.isNaN(value)) assert.ok(Number.isNaN(actual[t]), `${what}[${t}] should be NaN`);
    else close(actual[t], value, `${what}[${t}]`);
  });
}

test("meanAndStd uses the sample std, 0 for one value, NaN for none", () => {
  closeMeanStd(meanAndStd([2, 4, 4, 4, 5, 5, 7, 9]), 5, Math.sqrt(32 / 7), "eight values");
  assert.deepEqual(meanAndStd([3]), { mean: 3, std: 0 });
  const none = meanAndStd([]);
  assert.ok(Number.isNaN(none.mean) && Number.isNaN(none.std));
});

// Hand computation, replay seeds 1 and 2 (tasks 2, test sizes 10 and 40):
//   final average 0.75 / 0.70, micro (6+36)/50 = 0.84 / (7+28)/50 = 0.70,
//   forgetting 0.8-0.6 = 0.2 / 0.9-0.7 = 0.2, BWT -0.2 / -0.2,
//   FWT 0.1-0.2 = -0.1 / 0.3-0.2 = 0.1, NFR 0.05 / 0.15, time 3 / 6.
//   Sample std of two values = |a - b| / sqrt(2).
test("a two-seed group matches the hand-computed means and sample stds", () => {
  const summary = summarizeResults(fakeResults());
  assert.equal(summary.groups.length, 2);
  const replay = summary.groups[0]!;
  assert.equal(replay.label, "replay (m=100)");
  assert.deepEqual(replay.seeds, [1, 2]);
  closeMeanStd(replay.finalAverageAccuracy, 0.725, 0.05 / Math.SQRT2, "average accuracy");
  closeMeanStd(replay.finalMicroAverageAccuracy, 0.77, 0.14 / Math.SQRT2, "micro average");
  closeMeanStd(replay.finalForgetting, 0.2, 0, "forgetting");
  closeMeanStd(replay.finalBackwardTransfer, -0.2, 0, "BWT");
  closeMeanStd(replay.finalForwardTransfer, 0, 0.2 / Math.SQRT2, "FWT");
  closeMeanStd(replay.meanNegativeFlipRate, 0.1, 0.1 / Math.SQRT2, "NFR");
  closeMeanStd(replay.totalSeconds, 4.5, 3 / Math.SQRT2, "total time");
  closeMeanStd(replay.phaseSeconds?.["expert"], 2.25, 1.5 / Math.SQRT2, "expert phase");
  closeSeries(replay.perUpdate.averageAccuracy, [0.85, 0.725], "average series");
  closeSeries(replay.perUpdate.microAverageAccuracy, [0.85, 0.77], "micro series");
  closeSeries(replay.perUpdate.forgetting, [0, 0.2], "forgetting series");
  closeSeries(replay.perUpdate.backwardTransfer, [0, -0.2], "BWT series");
  closeSeries(replay.perUpdate.forwardTransfer, [0, 0], "FWT series");
  closeSeries(replay.perUpdate.negativeFlipRate, [Number.NaN, 0.1], "NFR series");
  closeSeries(replay.perUpdate.updateSeconds, [1.5, 3], "seconds series");
  closeSeries(replay.accuracyMatrix.flat(), [0.85, 0.2, 0.65, 0.8], "mean matrix");
});

test("a one-seed group has std 0 and no FWT without initial accuracies", () => {
  const fineTuning = summarizeResults(fakeResults()).groups[1]!;
  assert.equal(fineTuning.label, "fine-tuning");
  assert.equal(fineTuning.memorySize, null);
  closeMeanStd(fineTuning.finalAverageAccuracy, 0.625, 0, "average accuracy");
  closeMeanStd(fineTuning.finalMicroAverageAccuracy, 0.82, 0, "micro average");
  closeMeanStd(fineTuning.finalForgetting, 0.6, 0, "forgetting");
  closeMeanStd(fineTuning.meanNegativeFlipRate, 0.4, 0, "NFR");
  closeMeanStd(fineTuning.totalSeconds, 0.75, 0, "total time");
  assert.equal(fineTuning.finalForwardTransfer, undefined);
  assert.equal(fineTuning.perUpdate.forwardTransfer, undefined);
  assert.equal(fineTuning.phaseSeconds, undefined);
});

test("the terminal table is aligned, 3 decimals, n/a where a metric is missing", () => {
  const lines = [
    ["updater    ", "memory", "seeds", "        avg acc", "      micro acc", "     forgetting", "             BWT", "            FWT", "            NFR", "       time (s)"],
    ["-----------", "------", "-----", "---------------", "---------------", "---------------", "----------------", "---------------", "---------------", "---------------"],
    ["replay     ", "   100", "    2", "0.725 +/- 0.035", "0.770 +/- 0.099", "0.200 +/- 0.000", "-0.200 +/- 0.000", "0.000 +/- 0.141", "0.100 +/- 0.071", "4.500 +/- 2.121"],
    ["fine-tuning", "     -", "    1", "          0.625", "          0.820", "          0.600", "          -0.600", "            n/a", "          0.400", "          0.750"],
  ];
  const text = formatComparisonTable(summarizeResults(fakeResults())).split("\n");
  assert.deepEqual(text.slice(0, 4), lines.map((l) => l.join("  ").trimEnd()));
  assert.equal(text[4], "", "a blank line between the table and its notes");
  assert.match(text[5]!, /mean \+\/- sample std over seeds; a row with one seed \(n=1\) shows its value alone/);
});

test("a group of one seed shows no spread: never \"+/- 0.000\" for a single run", () => {
  const single = fakeResults();
  single.runs = single.runs.filter((run) => run.seed === 1);
  const summary = summarizeResults(single);
  const text = formatComparisonTable(summary);
  assert.doesNotMatch(text, /\+\/- /);
  // Seed 1 of replay ends at average accuracy (0.6 + 0.9) / 2, printed alone.
  assert.match(text, /replay\s+100\s+1\s+0\.750\s/);
  assert.doesNotMatch(summaryToMarkdown(summary), /± 0\.000/);
  // Two seeds that agree do have a measured spread of 0, and keep it.
  assert.match(formatComparisonTable(summarizeResults(fakeResults())), /0\.200 \+\/- 0\.000/);
  assert.equal(formatMeanStd({ mean: 0.5, std: 0 }, "±", 1), "0.500");
  assert.equal(formatMeanStd({ mean: 0.5, std: 0 }, "±", 2), "0.500 ± 0.000");
});

test("class-incremental tables with an FWT column explain what FWT means there; other scenarios do not", () => {
  const summary = summarizeResults(fakeResults());
  assert.ok(comparisonNotes(summary).includes(CLASS_INCREMENTAL_FWT_NOTE));
  assert.ok(formatComparisonTable(summary).includes(CLASS_INCREMENTAL_FWT_NOTE));
  assert.ok(summaryToMarkdown(summary).includes(CLASS_INCREMENTAL_FWT_NOTE));
  const permuted = fakeResults();
  permuted.scenario = "permuted";
  assert.ok(!formatComparisonTable(summarizeResults(permuted)).includes(CLASS_INCREMENTAL_FWT_NOTE));
  const noFwt = fakeResults();
  for (const run of noFwt.runs) delete run.initAccuracy;
  assert.ok(!formatComparisonTable(summarizeResults(noFwt)).includes(CLASS_INCREMENTAL_FWT_NOTE), "no FWT column, no note");
});

test("formatMeanStd never prints a negative zero", () => {
  assert.equal(formatMeanStd({ mean: -1e-17, std: 0.1414 }), "0.000 +/- 0.141");
  assert.equal(formatMeanStd({ mean: -0.2, std: 0 }, "±"), "-0.200 ± 0.000");
  assert.equal(formatMeanStd({ mean: Number.NaN, std: Number.NaN }), "n/a");
});

test("the Markdown table has an alignment row, ± and escaped pipes", () => {
  const results = fakeResults();
  results.runs[2]!.updater = "a|b";
  const lines = summaryToMarkdown(summarizeResults(results)).split("\n");
  const header = lines.findIndex((line) => line.startsWith("| updater"));
  assert.ok(header > 0, "a settings line comes before the table");
  assert.match(lines[0]!, /fake-mnist.*class-incremental.*2 tasks/);
  assert.equal(lines[header]!, "| updater | memory | seeds | avg acc | micro acc | forgetting | BWT | FWT | NFR | time (s) |");
  assert.equal(lines[header + 1]!, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  assert.equal(
    lines[header + 2]!,
    "| replay | 100 | 2 | 0.725 ± 0.035 | 0.770 ± 0.099 | 0.200 ± 0.000 | -0.200 ± 0.000 | 0.000 ± 0.141 | 0.100 ± 0.071 | 4.500 ± 2.121 |",
  );
  assert.ok(lines[header + 3]!.startsWith("| a\\|b | - | 1 | 0.625 | 0.820 |"), lines[header + 3]);
});

test("malformed results fail with a DataError naming the run", () => {
  const notSquare = fakeResults();
  notSquare.runs[1]!.accuracyMatrix[1] = [0.5];
  assert.throws(() => summarizeResults(notSquare), (e: unknown) =>
    e instanceof DataError && /run 1 \(updater "replay", memory 100, seed 2\).*row 1 has 1 entries/.test(e.message));

  const outOfRange = fakeResults();
  outOfRange.runs[2]!.accuracyMatrix[0]![0] = 1.5;
  assert.throws(() => summarizeResults(outOfRange), (e: unknown) =>
    e instanceof DataError && /run 2 .*fine-tuning.*\[0\]\[0\] = 1.5/.test(e.message));

  const badTimes = fakeResults();
  badTimes.runs[0]!.updateSeconds = [1];
  assert.throws(() => summarizeResults(badTimes), (e: unknown) =>
    e instanceof DataError && /run 0 .*updateSeconds has 1 entries; expected 2/.test(e.message));

  const duplicate = fakeResults();
  duplicate.runs[1]!.seed = 1;
  assert.throws(() => summarizeResults(duplicate), (e: unknown) => e instanceof DataError && /appear twice/.test(e.message));

  assert.throws(() => summarizeResults({ ...fakeResults(), runs: [] }), DataError);
});
