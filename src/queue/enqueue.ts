/**
 * The producer side for update jobs: validates an update the way a worker will, gives it its place in its
 * lineage, and adds it to the queue. `relearn update --queue` and the service example use it.
 */
import { Queue, QueueEvents, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { openRedis, redisOptions, type RedisTarget } from "./connection.js";
import { QueueError } from "./errors.js";
import { workersServing } from "./workers_connected.js";
import { dataSchema as updateDataSchema, type UpdateJobInput, type UpdateJobResult } from "./jobs/update.js";
import { lineageJobId, lineageResultKey, nextLineageSeq } from "./lineage.js";
import { JOB_NAMES, QUEUE_NAME } from "./names.js";
import { isAbsolute } from "node:path";
import { realStatePath } from "../state/real_path.js";
import { setTimeout as sleep } from "node:timers/promises";

/** Retries of an update: 3 attempts, 2 s then 4 s apart (a crash, a lost worker, a lock held elsewhere). */
export const UPDATE_JOB_OPTIONS: JobsOptions = { attempts: 3, backoff: { type: "exponential", delay: 2000 } };

export interface EnqueuedUpdate {
  jobId: string;
  lineage: string;
  /** Its place in the lineage: 1 for the lineage's first update ever enqueued. */
  seq: number;
}

/** A job's state (UpdateProducer.status); BullMQ's names, "unknown" included. */
export type UpdateJobStatus =
  | { state: "completed"; result: UpdateJobResult }
  | { state: "failed"; failedReason: string }
  | { state: string };

/** How often waitFor checks that its job still exists. */
const GONE_CHECK_MS = 5000;

export class UpdateProducer {
  private readonly redis: Redis;
  private readonly queue: Queue;
  private events: QueueEvents | undefined;

  constructor(private readonly target: RedisTarget) {
    this.redis = openRedis(target);
    this.queue = new Queue(QUEUE_NAME, { connection: redisOptions(target) });
    // Each waitFor adds listeners for its job; a service waits for many jobs at once.
    this.queue.setMaxListeners(0);
    // ioredis reconnects by itself; BullMQ prints errors nobody listens to. A call made meanwhile waits for Redis.
    this.queue.on("error", () => {});
  }

  /**
   * Enqueues one update. `lineage` defaults to the output state's real path (symlinks resolved, as the state's lock
   * resolves them: `state/current` pointing at `state/v3` is one lineage with `state/v3`); paths must be absolute.
   * Throws a QueueError listing the fields when the update is not valid, before anything is enqueued.
   */
  async enqueue(update: Omit<UpdateJobInput, "lineage">, options: { lineage?: string | undefined; job?: JobsOptions } = {}): Promise<EnqueuedUpdate> {
    const lineage = options.lineage ?? (isAbsolute(update.outputState) ? await realStatePath(update.outputState) : update.outputState);
    const checked = updateDataSchema.safeParse({ ...update, lineage: { name: lineage, seq: 1 } });
    if (!checked.success) {
      throw new QueueError(`not a valid update job: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    const seq = await nextLineageSeq(this.redis, lineage);
    const jobId = lineageJobId(lineage, seq);
    await this.queue.add(JOB_NAMES.update, { ...update, lineage: { name: lineage, seq } }, { ...UPDATE_JOB_OPTIONS, ...options.job, jobId });
    return { jobId, lineage, seq };
  }

  /**
   * Waits until job `jobId` completes (its result) or fails for good (throws a QueueError with the reason). A job
   * that disappears meanwhile (Redis restarted without --appendonly, or flushed: BullMQ's event for it never comes)
   * is noticed within `GONE_CHECK_MS`: its result is read from relearn's own key if it was applied, else a
   * QueueError says the job is gone.
   */
  async waitFor(jobId: string, timeoutMs?: number): Promise<UpdateJobResult> {
    if (this.events === undefined) {
      this.events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(this.target) });
      this.events.setMaxListeners(0);
      this.events.on("error", () => {});
    }
    await this.events.waitUntilReady();
    const job = await this.queue.getJob(jobId);
    if (job === undefined) throw new QueueError(`no job ${jobId} in the queue`);
    const stop = new AbortController();
    const gone = (async (): Promise<UpdateJobResult> => {
      for (;;) {
        // Aborted once the wait is over, so no timer outlives it (a CLI would otherwise exit seconds late).
        await sleep(GONE_CHECK_MS, undefined, { signal: stop.signal });
        const now = await this.queue.getJob(jobId).catch(() => null); // null: Redis unreachable now, ask again later
        if (now !== undefined) continue;
        const kept = await this.redis.get(lineageResultKey(jobId)).catch(() => null);
        if (kept !== null) return JSON.parse(kept) as UpdateJobResult;
        throw new QueueError(
          `job ${jobId} is gone from Redis (restarted without --appendonly yes, or flushed) and left no result: ` +
            `check its output state (relearn inspect) to see whether the update was written`,
        );
      }
    })();
    gone.catch(() => {}); // its outcome counts only while the race is on
    try {
      return await Promise.race([
        job.waitUntilFinished(this.events, timeoutMs).then(
          (result) => result as UpdateJobResult,
          (error: unknown) => {
            throw new QueueError(`job ${jobId} failed: ${(error as Error).message}`);
          },
        ),
        gone,
      ]);
    } finally {
      stop.abort();
    }
  }

  /**
   * Where job `jobId` is now: "waiting", "delayed", "active", "completed" (with its result) or "failed" (with the
   * reason of its last attempt); "completed" too for a job gone from the queue whose result relearn kept (a week);
   * undefined when there is no such job (never added, or removed and no result kept).
   */
  async status(jobId: string): Promise<UpdateJobStatus | undefined> {
    const job = await this.queue.getJob(jobId);
    if (job === undefined) {
      // A job Redis forgot (removed, or lost in a restart without persistence) may have left its result in relearn's key.
      const kept = await this.redis.get(lineageResultKey(jobId));
      return kept === null ? undefined : { state: "completed", result: JSON.parse(kept) as UpdateJobResult };
    }
    const state = await job.getState();
    if (state === "completed") return { state, result: job.returnvalue as UpdateJobResult };
    if (state === "failed") return { state, failedReason: job.failedReason };
    return { state };
  }

  /** How many relearn workers serve the queue's Redis database now (workers_connected.ts). */
  async workerCount(): Promise<number> {
    return workersServing(this.queue, this.target.db);
  }

  async close(): Promise<void> {
    await this.events?.close();
    await this.queue.close();
    this.redis.disconnect();
  }
}
