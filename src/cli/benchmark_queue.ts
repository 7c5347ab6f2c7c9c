/**
 * `relearn benchmark --queue <redis-url>`: the CLI side of a queued grid. Checks the URL and that Redis answers
 * (before any data is loaded: a typo fails at once), shows the cells' progress, and returns the grid's results for
 * the usual results folder. Loaded only with --queue, so a local benchmark never imports BullMQ.
 */
import type { BenchmarkConfig } from "../benchmark/run_benchmark.js";
import type { BenchmarkSpec } from "../benchmark/benchmark_spec.js";
import type { BenchmarkResults } from "../reporting/results.js";
import { checkRedisReachable, parseRedisUrl, redisOptions, type RedisTarget } from "../queue/connection.js";
import { QueueError } from "../queue/errors.js";
import { runQueuedBenchmark } from "../queue/benchmark_grid.js";
import { cellProgress } from "./progress.js";

/** The Redis of `--queue url`, checked to answer; a QueueError naming --queue otherwise. */
export async function queueTarget(url: string): Promise<RedisTarget> {
  let target: RedisTarget;
  try {
    target = parseRedisUrl(url);
  } catch (error) {
    // parseRedisUrl speaks of the worker's flag; here the URL came from --queue.
    if (error instanceof QueueError) throw new QueueError(error.message.replace(/^--redis\b/, "--queue"));
    throw error;
  }
  await checkRedisReachable(target);
  return target;
}

export async function runQueuedBenchmarkCli(target: RedisTarget, spec: BenchmarkSpec, config: BenchmarkConfig): Promise<BenchmarkResults> {
  process.stderr.write(`queue: ${target.display}; the cells run on relearn workers (relearn worker --redis ${target.display})\n`);
  // Ctrl-C stops the waiting, not the work: the cells stay queued and running, and a rerun collects them.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopped waiting; the cells keep running on the workers. Rerun the same command to collect them.\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const progress = cellProgress("benchmark:");
  try {
    return await runQueuedBenchmark(spec, config, {
      connection: redisOptions(target),
      onProgress: progress.update,
      onNote: (note) => process.stderr.write(`note: ${note}\n`),
    });
  } finally {
    progress.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
