/**
 * What a "benchmark-cell" job carries and returns, shared by the producer (`relearn benchmark --queue`,
 * benchmark_grid.ts) and the worker's job (jobs/benchmark-cell.ts). Kept free of tfjs so the producer stays light.
 *
 * A cell's data is the grid's shared settings (data set by name or absolute path, never its bytes) plus the cell's
 * own axes. Its job id is a hash of that data, the data files' bytes and the relearn version: the same cell asked for
 * again (a rerun, or a grid that grew by a seed) is the same job, so its finished result is reused instead of
 * computed twice; the same cell over changed data files is a new job.
 */
import { createHash } from "node:crypto";
import * as z from "zod";
import { benchmarkSettingsSchema, type BenchmarkSpec } from "../benchmark/benchmark_spec.js";
import type { CellResult, RunPlan } from "../benchmark/run_benchmark.js";
import type { RunResult } from "../reporting/results.js";
import { LIBRARY_VERSION } from "../state/format.js";

export const benchmarkCellDataSchema = z.strictObject({
  settings: benchmarkSettingsSchema,
  cell: z.strictObject({
    updater: z.string().min(1),
    /** null for updaters without a memory. */
    memorySize: z.number().int().positive().nullable(),
    seed: z.number().int().min(0),
    /** This updater's options from the grid's `updaterOptions` ({} when none). */
    updaterOptions: z.record(z.string(), z.unknown()),
  }),
});

export type BenchmarkCellData = z.input<typeof benchmarkCellDataSchema>;

/** The job data of one cell of `spec`. */
export function benchmarkCellData(spec: BenchmarkSpec, plan: RunPlan): BenchmarkCellData {
  // Only what the cell depends on: a grid that grows by a seed still shares its other cells' ids.
  const settings: BenchmarkCellData["settings"] = {
    data: spec.data,
    scenario: spec.scenario,
    tasks: spec.tasks,
    ...(spec.trainPerTask === undefined ? {} : { trainPerTask: spec.trainPerTask }),
    ...(spec.testPerTask === undefined ? {} : { testPerTask: spec.testPerTask }),
    model: spec.model,
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    optimizer: spec.optimizer,
    backend: spec.backend,
  };
  return {
    settings,
    cell: { updater: plan.updater, memorySize: plan.memorySize, seed: plan.seed, updaterOptions: spec.updaterOptions[plan.updater] ?? {} },
  };
}

/**
 * The job id of a cell: "cell-" and 32 hex digits of SHA-256 over the relearn version, the data (object keys
 * sorted, so the order flags were given in does not matter) and `dataFingerprint` (data_fingerprint.ts: the bytes
 * of the data files, so new data at the same path is new cells). A new relearn version computes cells afresh.
 */
export function benchmarkCellId(data: BenchmarkCellData, dataFingerprint: string): string {
  const hash = createHash("sha256").update(canonicalJson({ version: LIBRARY_VERSION, data, dataFingerprint })).digest("hex");
  return `cell-${hash.slice(0, 32)}`;
}

/** A cell's name for people: `rd m500 s1`, `fine-tuning s0`. */
export function describeCell(plan: RunPlan): string {
  return `${plan.updater}${plan.memorySize === null ? "" : ` m${plan.memorySize}`} s${plan.seed}`;
}

/**
 * A cell's result as BullMQ stores it (JSON): NaN and +-Infinity (an accuracy on an empty test set, say) would
 * become null there, and the summary of a queued grid would then differ from the local one; they travel as the
 * strings "NaN", "Infinity" and "-Infinity" instead, and {@link decodeCellResult} turns them back.
 */
export function encodeCellResult(result: CellResult): unknown {
  return mapNumbers(result, (x) => (Number.isFinite(x) ? x : String(x)));
}

const cellResultSchema = z.object({
  backend: z.string(),
  run: z.object({ updater: z.string(), seed: z.number(), accuracyMatrix: z.array(z.array(z.number())) }).loose(),
});

/** The CellResult of a job's return value (see encodeCellResult); throws if it is not one. */
export function decodeCellResult(value: unknown): CellResult {
  const decoded = mapStrings(value, (s) => (s === "NaN" ? Number.NaN : s === "Infinity" ? Infinity : s === "-Infinity" ? -Infinity : s));
  const parsed = cellResultSchema.safeParse(decoded);
  if (!parsed.success) throw new TypeError(`not a benchmark cell's result: ${z.prettifyError(parsed.error)}`);
  // The decoded value itself, not zod's copy: that one lists the checked keys first, and summary.json would then
  // order a run's fields differently from a local run's.
  return decoded as { backend: string; run: RunResult };
}

function mapNumbers(value: unknown, f: (x: number) => unknown): unknown {
  if (typeof value === "number") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapNumbers(v, f));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapNumbers(v, f)]));
  return value;
}

// Only inside number arrays and number fields would a string stand for a number; the names (updater) are never
// "NaN" or "Infinity", which no updater is called.
function mapStrings(value: unknown, f: (s: string) => unknown): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  return value;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}
