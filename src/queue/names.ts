/**
 * The names every producer and worker must agree on: one BullMQ queue for all
 * of relearn's jobs, and the job names (job kinds) it carries. A job's name
 * picks the file under src/queue/jobs/ that runs it (see dispatch.ts).
 */

/** The one BullMQ queue relearn uses; Redis keys are `bull:relearn:*` (BullMQ's) and `relearn:*` (ours). */
export const QUEUE_NAME = "relearn";

/** The job kinds. Each has a file src/queue/jobs/<name>.ts. */
export const JOB_NAMES = {
  /** One `relearn update`: config, data files, input state, output state (jobs/update.ts). */
  update: "update",
  /** One cell of a benchmark grid (`relearn benchmark --queue`). */
  benchmarkCell: "benchmark-cell",
  /** One trial of a tuning run (`relearn tune`). */
  tuneTrial: "tune-trial",
} as const;

export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

/** Prefix of the Redis keys relearn keeps beside BullMQ's own (lineage order, first-attempt fingerprints). */
export const KEY_PREFIX = "relearn";
