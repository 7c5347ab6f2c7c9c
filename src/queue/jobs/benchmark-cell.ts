/**
 * Job kind "benchmark-cell" (see the contract in ../dispatch.ts): one cell of a benchmark grid (one updater x
 * memory size x seed, with that updater's options), queued by `relearn benchmark --queue` (../benchmark_grid.ts).
 * Runs the very function a local `relearn benchmark` loops over (runBenchmarkCell) on the data the job names, so
 * the result is the local run's, number for number; returns it JSON-safe (encodeCellResult). The data set travels
 * by name or absolute path, never through Redis. A cell writes no files, so a retry simply runs it again: same
 * seed, same numbers.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { benchmarkConfig } from "../../benchmark/benchmark_spec.js";
import { runBenchmarkCell } from "../../benchmark/run_benchmark.js";
import { loadNamedData } from "../../data/named_datasets.js";
import type { TrainingCallback } from "../../training/callbacks.js";
import { benchmarkCellDataSchema, type BenchmarkCellData } from "../benchmark_cell.js";
import { encodeCellResult } from "../benchmark_cell.js";
import type { JobContext, ReportProgress } from "../dispatch.js";

export const dataSchema = benchmarkCellDataSchema;

/** How often training hands the event loop a turn, so the job process's SIGTERM handler can run. */
const YIELD_EVERY_MS = 50;

export async function run(input: unknown, reportProgress: ReportProgress, _context: JobContext): Promise<unknown> {
  const { settings, cell } = input as BenchmarkCellData;
  const data = await loadNamedData(settings.data.dataset, settings.data);
  const config = benchmarkConfig(
    {
      ...settings,
      updaters: [cell.updater],
      memorySizes: cell.memorySize === null ? [] : [cell.memorySize],
      seeds: [cell.seed],
      updaterOptions: { [cell.updater]: cell.updaterOptions },
    },
    data,
  );
  let lastYield = performance.now();
  const callbacks = (update: number, updates: number): TrainingCallback[] => [
    {
      onEpochEnd: (event) => reportProgress({ update: update + 1, updates, phase: event.phase, epoch: event.epoch + 1, epochs: event.epochs }),
      onBatchEnd: async () => {
        if (performance.now() - lastYield < YIELD_EVERY_MS) return;
        await nextTurn();
        lastYield = performance.now();
      },
    },
  ];
  const result = await runBenchmarkCell(
    config,
    { updater: cell.updater, memorySize: cell.memorySize, seed: cell.seed },
    { callbacksFor: (p) => callbacks(p.update, p.updates) },
  );
  return encodeCellResult(result);
}
