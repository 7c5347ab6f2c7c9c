/**
 * A TrialExecutor (src/tuning/executor.ts) that sends each trial to relearn's queue as a "tune-trial" job and
 * awaits its outcome, so a tuning run's trials spread over every worker. The search itself (the scheduler) stays
 * in the producer: it asks for the next trial as results come back.
 *
 * Paths in the specs must be absolute and on a filesystem the workers see (the tuning run's trial folders too).
 * Job ids are `tune-<run>-<trial>-<rung>`, so a producer that adds the same trial twice gets the existing job.
 */
import { randomUUID } from "node:crypto";
import { Queue, QueueEvents, type JobsOptions } from "bullmq";
import { redisOptions, type RedisTarget } from "./connection.js";
import { QueueError } from "./errors.js";
import { JOB_NAMES, QUEUE_NAME } from "./names.js";
import { dataSchema } from "./jobs/tune-trial.js";
import type { TrialExecutor } from "../tuning/executor.js";
import type { TrialOutcome, TrialSpec } from "../tuning/trial.js";

/** Retries of a trial: 3 attempts, 2 s then 4 s apart (a crashed or lost worker); a diverged trial is an outcome, not a failure. */
export const TRIAL_JOB_OPTIONS: JobsOptions = { attempts: 3, backoff: { type: "exponential", delay: 2000 } };

export interface QueueTrialExecutor extends TrialExecutor {
  /** Closes the queue connections (the jobs stay in Redis). */
  close(): Promise<void>;
  /**
   * Stops the search's trials (Ctrl-C of `tune --queue`): removes its jobs that no worker has started (waiting or
   * delayed, e.g. for a retry) and adds no more; a running job cannot be taken from its worker, so it goes on.
   * Returns how many were removed and how many keep running.
   */
  cancel(): Promise<{ cancelled: number; running: number }>;
}

/**
 * Trials as queue jobs, `concurrency` at a time (about the number of worker processes: more only wait in the
 * queue, and make ASHA decide on fewer results).
 */
export function queueTrialExecutor(target: RedisTarget, options: { concurrency: number; runId?: string }): QueueTrialExecutor {
  const runId = options.runId ?? randomUUID();
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(target) });
  const events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(target) });
  queue.on("error", () => {});
  events.on("error", () => {});
  events.setMaxListeners(0);
  const added = new Set<string>();
  let cancelling = false;
  return {
    concurrency: options.concurrency,
    async run(spec: TrialSpec): Promise<TrialOutcome> {
      const checked = dataSchema.safeParse(spec);
      if (!checked.success) throw new QueueError(`not a valid tune-trial job: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      await events.waitUntilReady();
      // Cancelled: the process exits soon; a trial asked for meanwhile is never added, and never settles.
      if (cancelling) return new Promise<never>(() => {});
      const job = await queue.add(JOB_NAMES.tuneTrial, spec, { ...TRIAL_JOB_OPTIONS, jobId: `tune-${runId}-${spec.trialId}-${spec.rung}` });
      added.add(job.id!);
      try {
        return (await job.waitUntilFinished(events)) as TrialOutcome;
      } catch (error) {
        throw new QueueError(`trial ${spec.trialId} (job ${job.id}) failed: ${(error as Error).message}`);
      }
    },
    async cancel() {
      cancelling = true;
      let cancelled = 0;
      let running = 0;
      for (const id of added) {
        const job = await queue.getJob(id);
        if (job === undefined) continue;
        const state = await job.getState();
        if (state === "completed" || state === "failed" || state === "unknown") continue;
        if (state === "active") {
          running++;
          continue;
        }
        // Waiting, delayed or prioritized; a worker may take it meanwhile, and then remove refuses (it is locked).
        try {
          await job.remove();
          cancelled++;
        } catch {
          running++;
        }
      }
      return { cancelled, running };
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}
