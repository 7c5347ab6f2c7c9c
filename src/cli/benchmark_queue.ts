/**
 * `relearn benchmark --queue <redis-url>`: the CLI side of a queued grid. Checks the URL and that Redis answers
 * (before any data is loaded: a typo fails at once), shows the cells' progress, and returns the grid's results for
 * the usual results folder. Loaded only with --queue, so a local benchmark never imports BullMQ.
 */
import type { BenchmarkConfig } from "../benchmark/run_benchmark.js";
import type { BenchmarkSpec } from "../benchmark/benchmark_spec.js";
import type { BenchmarkResults } from "../reporting/results.js";
import { checkRedisReachable, parseRedisUrl, redisOptions, type RedisTarget } from "../queue/connection.js";
import { runQueuedBenchmark } from "../queue/benchmark_grid.js";
import { cellProgress } from "./progress.js";
import { stopWaitingOnSignals } from "./interrupt.js";

/** The Redis of `--queue url`, checked to answer; a QueueError naming --queue otherwise. */
export async function queueTarget(url: string): Promise<RedisTarget> {
  const target = parseRedisUrl(url, "--queue");
  await checkRedisReachable(target);
  return target;
}

export async function runQueuedBenchmarkCli(target: RedisTarget, spec: BenchmarkSpec, config: BenchmarkConfig): Promise<BenchmarkResults> {
  process.stderr.write(`queue: ${target.display}; the cells run on relearn workers (relearn worker --redis ${target.display})\n`);
  const progress = cellProgress("benchmark:");
  try {
    // Ctrl-C stops the waiting, not the work: the cells stay queued and running, and a rerun collects them.
    return await stopWaitingOnSignals(
      (signal) => `${signal}: stopped waiting; the cells stay queued (or running) for the workers. Rerun the same command to collect them.`,
      () => runQueuedBenchmark(spec, config, {
        connection: redisOptions(target),
        onProgress: progress.update,
        onNote: (note) => process.stderr.write(`note: ${note}\n`),
        display: target.display,
      }),
    );
  } finally {
    progress.stop();
  }
}
