/**
 * Job "benchmark-cell": one cell of a benchmark grid (one updater x memory size x seed, with that updater's
 * options), queued by `relearn benchmark --queue`. Runs the very function a local `relearn benchmark` loops over
 * (runBenchmarkCell) on the data named in the job, so the result is the local run's, number for number; returns it
 * as a JSON-safe CellResult (see encodeCellResult). Data travels by name or path, never through Redis.
 */
import { benchmarkConfig } from "../../benchmark/benchmark_spec.js";
import { runBenchmarkCell } from "../../benchmark/run_benchmark.js";
import { loadNamedData, type NamedData } from "../../data/named_datasets.js";
import { benchmarkCellDataSchema, encodeCellResult } from "../benchmark_cell.js";

// A worker that runs several cells of one grid in one process loads their data once.
const loaded = new Map<string, Promise<NamedData>>();

/** Runs the cell `input` describes (validated here) and returns its encoded CellResult. */
export async function runBenchmarkCellJob(input: unknown): Promise<unknown> {
  const { settings, cell } = benchmarkCellDataSchema.parse(input);
  const key = JSON.stringify(settings.data);
  let data = loaded.get(key);
  if (data === undefined) {
    data = loadNamedData(settings.data.dataset, settings.data);
    loaded.set(key, data);
    data.catch(() => loaded.delete(key));
  }
  const config = benchmarkConfig(
    {
      ...settings,
      updaters: [cell.updater],
      memorySizes: cell.memorySize === null ? [] : [cell.memorySize],
      seeds: [cell.seed],
      updaterOptions: { [cell.updater]: cell.updaterOptions },
    },
    await data,
  );
  const result = await runBenchmarkCell(config, { updater: cell.updater, memorySize: cell.memorySize, seed: cell.seed });
  return encodeCellResult(result);
}
