/**
 * Benchmark runs summarised per (updater, memory size) over seeds, and the
 * comparison table in plain text and Markdown. Final metrics are the values
 * after the last update; per-update series are means over seeds.
 */
import { DataError } from "../errors.js";
import { summarizeAccuracyMatrix } from "../metrics/continual.js";
import { checkBenchmarkResults, describeRun, flipRatesPerUpdate } from "./results.js";
import type { BenchmarkResults, RunResult } from "./results.js";

/** Mean and sample standard deviation (0 for a single value; NaN for none). */
export interface MeanStd {
  mean: number;
  std: number;
}

/** Every per-update metric of one run (or the mean over seeds), index = update t. */
export interface UpdateSeries {
  averageAccuracy: number[];
  microAverageAccuracy: number[];
  forgetting: number[];
  backwardTransfer: number[];
  /** Present only when every run gave its initial accuracies. */
  forwardTransfer?: number[];
  /** Entry t compares the models after updates t-1 and t; entry 0 is NaN. */
  negativeFlipRate: number[];
  updateSeconds: number[];
}

/** One (updater, memory size) over its seeds. */
export interface GroupSummary {
  updater: string;
  memorySize: number | null;
  /** `"updater"` or `"updater (m=500)"`: the name in legends and tables. */
  label: string;
  seeds: number[];
  finalAverageAccuracy: MeanStd;
  finalMicroAverageAccuracy: MeanStd;
  finalForgetting: MeanStd;
  finalBackwardTransfer: MeanStd;
  /** Present only when every run of the group gave its initial accuracies. */
  finalForwardTransfer?: MeanStd;
  /** Each run's mean negative flip rate over its consecutive-model pairs, then over seeds. */
  meanNegativeFlipRate: MeanStd;
  /** Sum of the update times of a run, over seeds. */
  totalSeconds: MeanStd;
  /** Total time of each phase over updates, for phases every run of the group reported. */
  phaseSeconds?: Record<string, MeanStd>;
  /** Mean over seeds of each per-update series. */
  perUpdate: UpdateSeries;
  /** Sample standard deviation over seeds of the charted series (0 with one seed): the charts' bands. */
  perUpdateStd: { averageAccuracy: number[]; forgetting: number[] };
  /** Mean over seeds of the accuracy matrix. */
  accuracyMatrix: number[][];
  /** The name of each task in charts (see {@link taskNames}): "0", or "0: T-shirt/top, Trouser". */
  taskNames: string[];
  /** The updater's own options in the grid (`--updater-options`, a variant's settings), as its first run records them. */
  updaterOptions?: Record<string, unknown>;
}

/** The benchmark's settings and one summary per (updater, memory size), in order of first appearance. */
export interface BenchmarkSummary extends Omit<BenchmarkResults, "runs"> {
  groups: GroupSummary[];
}

/** Mean and sample standard deviation (n - 1); std is 0 for one value, both NaN for none. */
export function meanAndStd(values: readonly number[]): MeanStd {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  if (n === 1) return { mean, std: 0 };
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(squares / (n - 1)) };
}

/** The per-update metrics of one run (checked input; errors name the run). */
export function runSeries(run: RunResult, tasks: number, index = 0): UpdateSeries {
  let metrics;
  try {
    metrics = summarizeAccuracyMatrix(run.accuracyMatrix, {
      testSizes: run.testSizes,
      ...(run.initAccuracy !== undefined ? { init: run.initAccuracy } : {}),
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(`${describeRun(run, index)}: ${reason}`, { cause: error });
  }
  return {
    ...metrics,
    negativeFlipRate: flipRatesPerUpdate(run, tasks),
    updateSeconds: run.updateSeconds.map(Number),
  };
}

/** Summarises every (updater, memory size) group of the results over its seeds. */
export function summarizeResults(results: BenchmarkResults): BenchmarkSummary {
  checkBenchmarkResults(results);
  const groups = new Map<string, { run: RunResult; series: UpdateSeries }[]>();
  results.runs.forEach((run, index) => {
    const key = JSON.stringify([run.updater, run.memorySize]);
    const members = groups.get(key) ?? [];
    members.push({ run, series: runSeries(run, results.tasks, index) });
    groups.set(key, members);
  });
  return {
    dataset: results.dataset,
    scenario: results.scenario,
    tasks: results.tasks,
    model: results.model,
    backend: results.backend,
    epochs: results.epochs,
    batchSize: results.batchSize,
    ...(results.optimizer === undefined ? {} : { optimizer: results.optimizer }),
    ...(results.classNames === undefined ? {} : { classNames: results.classNames }),
    groups: [...groups.values()].map((members) => summarizeGroup(members, results.tasks, results.classNames)),
  };
}

/** The name of a group in legends and tables. */
export function groupLabel(updater: string, memorySize: number | null): string {
  return memorySize === null ? updater : `${updater} (m=${memorySize})`;
}

/**
 * Task names for charts: the task's index, then its classes (by name where `classNames` has them) when every
 * run split the classes the same way into disjoint tasks, as class- and task-incremental scenarios do. Tasks
 * that share classes (permuted, rotated, chunks) or runs whose seeds ordered the classes differently keep the
 * bare index: a class list would be wrong for some of the runs averaged there.
 */
export function taskNames(runs: readonly RunResult[], tasks: number, classNames?: readonly string[]): string[] {
  const indices = Array.from({ length: tasks }, (_, i) => String(i));
  const split = runs[0]?.taskClasses;
  if (split === undefined || runs.some((run) => JSON.stringify(run.taskClasses) !== JSON.stringify(split))) return indices;
  const all = split.flat();
  if (new Set(all).size !== all.length) return indices;
  return split.map((classes, i) => `${i}: ${classes.map((c) => classNames?.[c] ?? String(c)).join(", ")}`);
}

function summarizeGroup(
  members: readonly { run: RunResult; series: UpdateSeries }[],
  tasks: number,
  classNames: readonly string[] | undefined,
): GroupSummary {
  const first = members[0]!.run;
  const series = members.map((m) => m.series);
  const final = (pick: (s: UpdateSeries) => readonly number[] | undefined): MeanStd =>
    meanAndStd(series.map((s) => pick(s)!.at(-1)!));
  const everyHasFwt = series.every((s) => s.forwardTransfer !== undefined);
  const group: GroupSummary = {
    updater: first.updater,
    memorySize: first.memorySize,
    label: groupLabel(first.updater, first.memorySize),
    seeds: members.map((m) => m.run.seed),
    finalAverageAccuracy: final((s) => s.averageAccuracy),
    finalMicroAverageAccuracy: final((s) => s.microAverageAccuracy),
    finalForgetting: final((s) => s.forgetting),
    finalBackwardTransfer: final((s) => s.backwardTransfer),
    meanNegativeFlipRate: meanAndStd(series.map((s) => meanOfFinite(s.negativeFlipRate))),
    totalSeconds: meanAndStd(series.map((s) => s.updateSeconds.reduce((sum, v) => sum + v, 0))),
    perUpdate: {
      averageAccuracy: meanSeries(series.map((s) => s.averageAccuracy)),
      microAverageAccuracy: meanSeries(series.map((s) => s.microAverageAccuracy)),
      forgetting: meanSeries(series.map((s) => s.forgetting)),
      backwardTransfer: meanSeries(series.map((s) => s.backwardTransfer)),
      negativeFlipRate: meanSeries(series.map((s) => s.negativeFlipRate)),
      updateSeconds: meanSeries(series.map((s) => s.updateSeconds)),
    },
    perUpdateStd: {
      averageAccuracy: stdSeries(series.map((s) => s.averageAccuracy)),
      forgetting: stdSeries(series.map((s) => s.forgetting)),
    },
    accuracyMatrix: meanMatrix(members.map((m) => m.run.accuracyMatrix)),
    taskNames: taskNames(members.map((m) => m.run), tasks, classNames),
  };
  if (everyHasFwt) {
    group.finalForwardTransfer = final((s) => s.forwardTransfer);
    group.perUpdate.forwardTransfer = meanSeries(series.map((s) => s.forwardTransfer!));
  }
  // One updater name has one entry in --updater-options, so every seed of a group ran with the same options.
  if (first.updaterOptions !== undefined) group.updaterOptions = first.updaterOptions;
  const phases = commonPhases(members.map((m) => m.run));
  if (phases.length > 0) {
    group.phaseSeconds = Object.fromEntries(
      phases.map((phase) => [
        phase,
        meanAndStd(members.map((m) => m.run.phaseSeconds![phase]!.reduce((sum, v) => sum + v, 0))),
      ]),
    );
  }
  return group;
}

function commonPhases(runs: readonly RunResult[]): string[] {
  const first = runs[0]?.phaseSeconds;
  if (first === undefined) return [];
  return Object.keys(first).filter((phase) => runs.every((run) => Array.isArray(run.phaseSeconds?.[phase])));
}

// NaN marks "no value" (update 0 of the flip rates), so it is skipped, not propagated.
function meanOfFinite(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? Number.NaN : finite.reduce((sum, v) => sum + v, 0) / finite.length;
}

function meanSeries(series: readonly (readonly number[])[]): number[] {
  return series[0]!.map((_, t) => meanAndStd(series.map((s) => s[t]!)).mean);
}

function stdSeries(series: readonly (readonly number[])[]): number[] {
  return series[0]!.map((_, t) => meanAndStd(series.map((s) => s[t]!)).std);
}

function meanMatrix(matrices: readonly (readonly (readonly number[])[])[]): number[][] {
  return matrices[0]!.map((row, t) => row.map((_, i) => meanAndStd(matrices.map((m) => m[t]![i]!)).mean));
}

/** The comparison table as cells, shared by the text, Markdown and HTML renderings. */
export interface ComparisonTable {
  headers: string[];
  /** Per column: right-aligned numbers (true) or left-aligned text (false). */
  numeric: boolean[];
  rows: string[][];
}

/**
 * Builds the comparison table; `plusMinus` joins mean and std ("+/-" for terminals, "±" elsewhere). A group
 * of one seed shows its values alone: a spread of one run is not 0, it is unknown.
 */
export function comparisonTable(summary: BenchmarkSummary, plusMinus = "+/-"): ComparisonTable {
  const withFwt = summary.groups.some((g) => g.finalForwardTransfer !== undefined);
  const headers = ["updater", "memory", "seeds", "avg acc", "micro acc", "forgetting", "BWT"];
  if (withFwt) headers.push("FWT");
  headers.push("NFR", "time (s)");
  const rows = summary.groups.map((g) => {
    const cell = (value: MeanStd | undefined): string => formatMeanStd(value, plusMinus, g.seeds.length);
    const row = [g.updater, g.memorySize === null ? "-" : String(g.memorySize), String(g.seeds.length)];
    row.push(cell(g.finalAverageAccuracy), cell(g.finalMicroAverageAccuracy), cell(g.finalForgetting));
    row.push(cell(g.finalBackwardTransfer));
    if (withFwt) row.push(cell(g.finalForwardTransfer));
    row.push(cell(g.meanNegativeFlipRate), cell(g.totalSeconds));
    return row;
  });
  return { headers, numeric: headers.map((_, c) => c > 0), rows };
}

/**
 * "0.912 +/- 0.004" with 3 decimals; "n/a" when there is no value. With `samples` = 1 the mean alone
 * ("0.912"): one run has no spread to show, and "+/- 0.000" would claim there is none.
 */
export function formatMeanStd(value: MeanStd | undefined, plusMinus = "+/-", samples?: number): string {
  if (value === undefined || !Number.isFinite(value.mean)) return "n/a";
  if (samples === 1) return fixed3(value.mean);
  return `${fixed3(value.mean)} ${plusMinus} ${fixed3(value.std)}`;
}

/** Why FWT is a constant in class-incremental runs; shown under every table that has an FWT column. */
export const CLASS_INCREMENTAL_FWT_NOTE =
  "FWT in a class-incremental scenario: before its update, a model has never been trained on a task's classes and " +
  "(with one shared output layer) scores about 0 on it, so FWT is about minus the untrained model's mean accuracy on " +
  "the later tasks: a constant set by the random initialisation, the same for every updater with the same seeds. " +
  "It does not measure transfer there; compare FWT in scenarios whose tasks share classes (permuted, rotated, iid).";

/**
 * Notes to print under the comparison table: what the spread is (and that one-seed groups have none) and,
 * for class-incremental runs with an FWT column, what FWT means there.
 */
export function comparisonNotes(summary: BenchmarkSummary, plusMinus = "+/-"): string[] {
  const single = summary.groups.filter((g) => g.seeds.length === 1).length;
  const spread =
    single === summary.groups.length
      ? "Values after the last update of one run per row (n=1 seed): no spread to show."
      : `Values after the last update: mean ${plusMinus} sample std over seeds` +
        (single > 0 ? "; a row with one seed (n=1) shows its value alone." : ".");
  const notes = [spread];
  const withFwt = summary.groups.some((g) => g.finalForwardTransfer !== undefined);
  if (withFwt && summary.scenario === "class-incremental") notes.push(CLASS_INCREMENTAL_FWT_NOTE);
  return notes;
}

// A mean of -1e-17 (rounding noise of a true 0) must not print as "-0.000".
function fixed3(value: number): string {
  const text = value.toFixed(3);
  return text === "-0.000" ? "0.000" : text;
}

/** The comparison table as aligned plain text for a terminal (final metrics, mean +/- std over seeds). */
export function formatComparisonTable(summary: BenchmarkSummary): string {
  const table = comparisonTable(summary);
  const widths = table.headers.map((header, c) => Math.max(header.length, ...table.rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((text, c) => (table.numeric[c] ? text.padStart(widths[c]!) : text.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(table.headers), rule, ...table.rows.map(line), "", ...comparisonNotes(summary)].join("\n");
}

/** The settings line and the comparison table as Markdown, for docs. */
export function summaryToMarkdown(summary: BenchmarkSummary): string {
  const table = comparisonTable(summary, "±");
  const escapePipes = (text: string): string => text.replace(/\|/g, "\\|");
  const row = (cells: readonly string[]): string => `| ${cells.map(escapePipes).join(" | ")} |`;
  const align = `|${table.numeric.map((n) => (n ? " ---: " : " --- ")).join("|")}|`;
  const settings =
    `**${summary.dataset}**, ${summary.scenario}: ${summary.tasks} tasks, backend ${summary.backend}, ` +
    `${summary.epochs} epochs, batch size ${summary.batchSize}.`;
  const notes = comparisonNotes(summary, "±");
  return [settings, "", row(table.headers), align, ...table.rows.map(row), "", ...notes.flatMap((note) => [note, ""])].join("\n");
}
