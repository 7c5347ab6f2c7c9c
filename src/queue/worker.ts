/**
 * A relearn worker: takes jobs from the queue and runs each attempt in a fresh process (run_in_child.ts), in
 * lineage order where the job has a lineage (lineage.ts). Retries, job locks and stalled-job recovery are
 * BullMQ's: a job whose worker died (its lock expires) is moved back to wait by any other worker's stalled check
 * and runs again. BullMQ's check marks the active jobs on one pass and moves those whose lock is gone on the next,
 * so the restart comes between one lock duration and the lock duration plus two stalled intervals after the death.
 */
import { UnrecoverableError, Queue, WaitingError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { openRedis, redisOptions, type RedisTarget } from "./connection.js";
import { lineageFieldSchema } from "./lineage_field.js";
import { LineageGate, type GateDecision } from "./lineage.js";
import { KEY_PREFIX, QUEUE_NAME } from "./names.js";
import { JobAttemptError, runInChild, type ChildRun } from "./run_in_child.js";

export interface WorkerOptions {
  redis: RedisTarget;
  /** Jobs run at once by this worker, each in its own process (default 1). */
  concurrency?: number;
  /**
   * BullMQ's job lock duration in ms (default 30000). A dead worker's job is restarted after this plus up to two
   * `stalledIntervalMs` (up to 90 s at the defaults); a live worker renews its locks every half of it.
   */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (of dead workers), in ms (default: the lock duration). */
  stalledIntervalMs?: number;
  /** How often a job may stall (its worker dies) before BullMQ fails it (default 2). */
  maxStalledCount?: number;
  /** How long a lineage job that is not next waits before asking again, in ms (default 1000). */
  lineagePollMs?: number;
  /** How long a lineage place whose job never arrived is waited for before it is skipped, in ms (default 60000). */
  lineageMissingGraceMs?: number;
  /** One line per job start and end (default: on stderr). */
  log?: (line: string) => void;
}

export interface RelearnWorker {
  worker: Worker;
  /**
   * Stops taking jobs. Without `hard`, running jobs finish first. With `hard`, running job processes are stopped
   * (they undo unfinished writes) and their jobs go back to wait, for another worker, without spending an attempt.
   */
  close(hard?: boolean): Promise<void>;
  /** Jobs running now. */
  running(): number;
}

const FINGERPRINT_TTL_S = 7 * 24 * 3600;

/** Starts a worker on relearn's queue. Redis should be reachable (checkRedisReachable) before. */
export function startWorker(options: WorkerOptions): RelearnWorker {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockDuration = options.lockDurationMs ?? 30000;
  const redis: Redis = openRedis(options.redis);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(options.redis) });
  const gate = new LineageGate(redis, queue, {
    lockMs: lockDuration,
    pollMs: options.lineagePollMs ?? 1000,
    ...(options.lineageMissingGraceMs === undefined ? {} : { missingGraceMs: options.lineageMissingGraceMs }),
  });
  const runs = new Set<ChildRun>();
  let stoppingHard = false;

  const processor = async (job: Job, token?: string): Promise<unknown> => {
    const lineage = lineageFieldSchema.safeParse((job.data as { lineage?: unknown } | undefined)?.lineage);
    const what = `job ${job.id} ${job.name}${lineage.success ? ` (lineage ${lineage.data.name} #${lineage.data.seq})` : ""}`;
    let decision: GateDecision | undefined;
    if (lineage.success) {
      decision = await gate.enter(job, token!, lineage.data); // throws DelayedError when it is not its turn
      if (decision.kind === "applied") {
        log(`relearn worker: ${what} was applied already (an earlier attempt finished it); not run again`);
        return decision.result;
      }
    }
    const leave = decision?.kind === "run" ? decision.leave : async () => {};
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    const started = performance.now();
    const run = runInChild(
      { name: job.name, id: String(job.id), data: job.data, attempt },
      {
        onProgress: (value) => void job.updateProgress(value).catch(() => {}),
        saveFingerprint: async (value) => {
          const key = `${KEY_PREFIX}:job:${job.id}:fingerprint`;
          await redis.set(key, value, "EX", FINGERPRINT_TTL_S, "NX");
          return (await redis.get(key)) ?? value;
        },
      },
    );
    runs.add(run);
    // A restart after a dead worker spends no attempt (attemptsMade), but BullMQ counts it in stalledCounter: say so,
    // or the restart reads like a first start. (attemptsStarted would also count a lineage job's turns waited.)
    const stalled = job.stalledCounter > 0 ? `, restarted after a stalled worker${job.stalledCounter > 1 ? ` (${job.stalledCounter} times)` : ""}` : "";
    log(`relearn worker: ${what} started (attempt ${attempt}/${attempts}${stalled}, process ${run.pid})`);
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
    try {
      const { result, recovered } = await run.result;
      await leave("applied", result);
      log(`relearn worker: ${what} ${recovered ? "recovered (an earlier attempt had written its output)" : "finished"} in ${seconds()} s`);
      return result;
    } catch (error) {
      const retry = !(error instanceof JobAttemptError) || error.retry;
      if (stoppingHard && retry) {
        // Stopped by our own shutdown: not the job's fault, so no attempt is spent.
        await leave("will-retry");
        await job.moveToWait(token);
        log(`relearn worker: ${what} stopped by the worker's shutdown after ${seconds()} s; back in the queue`);
        throw new WaitingError();
      }
      const forGood = !retry || attempt >= attempts;
      await leave(forGood ? "failed-for-good" : "will-retry");
      const message = error instanceof Error ? error.message : String(error);
      log(`relearn worker: ${what} failed in ${seconds()} s (attempt ${attempt}/${attempts}, ${forGood ? "for good" : "will retry"}): ${message}`);
      if (!retry) throw new UnrecoverableError(message);
      throw error;
    } finally {
      runs.delete(run);
    }
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection: redisOptions(options.redis),
    concurrency: options.concurrency ?? 1,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? lockDuration,
    maxStalledCount: options.maxStalledCount ?? 2,
  });
  // Redis going away makes every connection report errors until it is back: one line per outage, not hundreds.
  let lastErrorLog = 0;
  const onError = (error: Error) => {
    if (Date.now() - lastErrorLog < 10000) return;
    lastErrorLog = Date.now();
    log(`relearn worker: Redis error (retrying): ${error.message}`);
  };
  worker.on("error", onError);
  queue.on("error", onError);

  return {
    worker,
    running: () => runs.size,
    close: async (hard = false) => {
      if (hard) {
        stoppingHard = true;
        for (const run of runs) run.stop();
      }
      await worker.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
