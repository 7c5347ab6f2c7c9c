/**
 * A results folder on disk (Node fs): everything a person or a script needs
 * after a benchmark, in plain formats.
 *
 *   summary.json     { summary, runs }: the per-group summary and the raw runs
 *   accuracy-<updater>-m<memory>-s<seed>.csv   one per run, header task_0..task_{T-1} (task ids), a row per update from update 1
 *   metrics.jsonl    one line per run and update
 *   charts/*.svg, charts/*.png   see charts.ts
 *   report.html      self-contained report
 */
import { existsSync } from "node:fs";
import { appendFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { renderReportHtml } from "./html.js";
import { fileSlug } from "./results.js";
import type { BenchmarkResults, RunResult } from "./results.js";
import { runSeries, summarizeResults } from "./summary.js";
import type { BenchmarkSummary } from "./summary.js";

/** Options of {@link writeResultsFolder}. */
export interface WriteResultsOptions {
  /** Render charts (SVG, and the HTML report's figures). Default true. */
  charts?: boolean;
  /** Also write PNG copies of the charts. Default true. */
  pngs?: boolean;
  /** PNG size relative to the SVG. Default 2. */
  pngScale?: number;
}

/** What {@link writeResultsFolder} wrote. */
export interface WrittenResults {
  summary: BenchmarkSummary;
  /** Paths of every file written, relative to the folder, in writing order. */
  files: string[];
  /** Files of an earlier results folder there that this one does not rewrite, removed (relative paths, sorted). */
  removed: string[];
}

/** A results folder's own files: what writeResultsFolder writes. Anything else in the folder is the user's and stays. */
function isResultsFile(relative: string): boolean {
  return (
    ["summary.json", "metrics.jsonl", "report.html"].includes(relative) ||
    /^accuracy-.+\.csv$/.test(relative) ||
    /^charts\/[^/]+\.(svg|png)$/.test(relative)
  );
}

/** The results files of an earlier run in `dir` (relative paths); none when `dir` holds no summary.json. */
async function earlierResultsFiles(dir: string): Promise<string[]> {
  if (!existsSync(join(dir, "summary.json"))) return [];
  const top = await readdir(dir).catch(() => [] as string[]);
  const charts = await readdir(join(dir, "charts")).catch(() => [] as string[]);
  return [...top, ...charts.map((name) => `charts/${name}`)].filter(isResultsFile);
}

/** One line of metrics.jsonl: one run after one update. null = no value (e.g. FWT without init). */
export interface MetricsLine {
  updater: string;
  memorySize: number | null;
  seed: number;
  /** Number of the update, from 1 (the first update is update 1). */
  update: number;
  averageAccuracy: number;
  microAverageAccuracy: number;
  forgetting: number;
  bwt: number;
  fwt: number | null;
  /** Negative flip rate against the model after the previous update; null at update 1. */
  nfr: number | null;
  seconds: number;
}

/**
 * Writes summary.json, a CSV per run, metrics.jsonl, charts/ and report.html
 * into `dir` (created if missing; existing files of the same names are replaced).
 * The files of an earlier results folder there that this run does not write
 * (another grid's runs and charts) are removed, so the folder describes this
 * run only; other files in it are kept.
 */
export async function writeResultsFolder(
  dir: string,
  results: BenchmarkResults,
  options: WriteResultsOptions = {},
): Promise<WrittenResults> {
  const summary = summarizeResults(results);
  const files: string[] = [];
  const write = async (relative: string, content: string | Buffer): Promise<void> => {
    await writeFile(join(dir, relative), content);
    files.push(relative);
  };
  await mkdir(dir, { recursive: true });
  const earlier = await earlierResultsFiles(dir);

  await write("summary.json", JSON.stringify({ summary, runs: results.runs }, null, 2) + "\n");
  const csvNames = accuracyCsvNames(results.runs);
  for (const [index, run] of results.runs.entries()) {
    await write(csvNames[index]!, accuracyCsv(run.accuracyMatrix));
  }
  const lines = metricsLines(results).map((line) => JSON.stringify(line));
  await write("metrics.jsonl", lines.join("\n") + "\n");

  // vega, vega-lite and sharp load only here: they take most of the install and
  // about 2 s to import, which no other use of the package should pay.
  const chartsModule = options.charts === false ? undefined : await import("./charts.js");
  const charts = chartsModule === undefined ? [] : await chartsModule.renderCharts(summary);
  const pngs = options.pngs !== false && charts.length > 0;
  if (charts.length > 0) await mkdir(join(dir, "charts"), { recursive: true });
  for (const chart of charts) {
    await write(`charts/${chart.name}.svg`, chart.svg);
    if (pngs) await write(`charts/${chart.name}.png`, await chartsModule!.svgToPng(chart.svg, options.pngScale ?? 2));
  }
  const html = renderReportHtml(summary, charts, {
    ...(charts.length > 0 ? { chartsFolder: "charts" } : {}),
    pngs,
    dataFiles: ["summary.json", "metrics.jsonl", ...csvNames],
  });
  await write("report.html", html);
  const removed = earlier.filter((name) => !files.includes(name)).sort();
  for (const name of removed) await rm(join(dir, name), { force: true });
  return { summary, files, removed };
}

/** Appends one object as a JSON line, creating the file and its folder if needed. */
export async function appendJsonl(path: string, object: unknown): Promise<void> {
  const line = JSON.stringify(object);
  if (line === undefined) throw new TypeError(`appendJsonl(${path}): the value has no JSON form`);
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, line + "\n");
}

/** The CSV of an accuracy matrix: header task_0..task_{T-1}, one row per update. */
export function accuracyCsv(matrix: readonly (readonly number[])[]): string {
  const tasks = matrix[0]?.length ?? 0;
  const header = Array.from({ length: tasks }, (_, i) => `task_${i}`).join(",");
  return [header, ...matrix.map((row) => row.map((value) => String(value)).join(","))].join("\n") + "\n";
}

/** CSV file names of the runs, `accuracy-<updater>-m<memory|none>-s<seed>.csv`, made unique if slugs collide. */
export function accuracyCsvNames(runs: readonly RunResult[]): string[] {
  const used = new Set<string>();
  return runs.map((run) => {
    const memory = run.memorySize === null ? "none" : String(run.memorySize);
    const base = `accuracy-${fileSlug(run.updater)}-m${memory}-s${fileSlug(String(run.seed))}`;
    let name = `${base}.csv`;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}.csv`;
    used.add(name);
    return name;
  });
}

/** The lines of metrics.jsonl, run by run, update by update. */
export function metricsLines(results: BenchmarkResults): MetricsLine[] {
  return results.runs.flatMap((run, index) => {
    const series = runSeries(run, results.tasks, index);
    return series.averageAccuracy.map((averageAccuracy, t) => ({
      updater: run.updater,
      memorySize: run.memorySize,
      seed: run.seed,
      update: t + 1,
      averageAccuracy,
      microAverageAccuracy: series.microAverageAccuracy[t]!,
      forgetting: series.forgetting[t]!,
      bwt: series.backwardTransfer[t]!,
      fwt: series.forwardTransfer?.[t] ?? null,
      nfr: finiteOrNull(series.negativeFlipRate[t]),
      seconds: series.updateSeconds[t]!,
    }));
  });
}

function finiteOrNull(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}
