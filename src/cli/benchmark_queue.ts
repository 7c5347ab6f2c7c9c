/**
 * `relearn benchmark --queue <redis-url>`: the CLI side of a queued grid. Checks that Redis answers, shows the
 * cells' progress, and returns the grid's results for the usual results folder. Loaded only with --queue, so a
 * local benchmark never imports BullMQ.
 */
import type { BenchmarkConfig } from "../benchmark/run_benchmark.js";
import type { BenchmarkSpec } from "../benchmark/benchmark_spec.js";
import type { BenchmarkResults } from "../reporting/results.js";
import { checkRedisReachable, parseRedisUrl, redisOptions } from "../queue/connection.js";
import { runQueuedBenchmark } from "../queue/benchmark_grid.js";
import { cellProgress } from "./progress.js";

export async function runQueuedBenchmarkCli(url: string, spec: BenchmarkSpec, config: BenchmarkConfig): Promise<BenchmarkResults> {
  const target = parseRedisUrl(url);
  await checkRedisReachable(target);
  process.stderr.write(`queue: ${target.display}; the cells run on relearn workers (relearn worker --redis ${target.display})\n`);
  // Ctrl-C stops the waiting, not the work: the cells stay queued and running, and a rerun collects them.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopped waiting; the cells keep running on the workers. Rerun the same command to collect them.\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const progress = cellProgress("benchmark:");
  try {
    return await runQueuedBenchmark(spec, config, { connection: redisOptions(target), onProgress: progress.update });
  } finally {
    progress.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
