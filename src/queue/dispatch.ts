/**
 * Job kinds: which code runs a job of a given name.
 *
 * THE CONTRACT (add a job kind by adding ONE file, without editing this one):
 *
 *   src/queue/jobs/<job-name>.ts, where <job-name> is the BullMQ job name (lower case, digits and "-", e.g.
 *   "update", "benchmark-cell", "tune-trial"; see names.ts), exports:
 *
 *   - `dataSchema`: a zod schema of the job's data (the JSON the producer passed to `queue.add(name, data)`).
 *     The data is parsed with it before `run`; data it rejects fails the job at once, without retries.
 *   - `run(data, reportProgress, context)`: does the job and resolves to its result, which must be JSON
 *     (BullMQ stores it as the job's return value). `data` is the parsed data. `reportProgress(value)` sends a
 *     number (percent) or a small JSON object to BullMQ's job progress (QueueEvents "progress"); call it at
 *     most a few times a second. `context` is `{ jobId, attempt }` (attempt 1 = first try).
 *     A RelearnError other than a StateError (bad options, bad data: retrying cannot help) fails the job for
 *     good; any other error is retried (`attempts` and `backoff` of the job's options).
 *   - optionally `outputFingerprint(data)` and `recover(data, context)`, for jobs that write files: the
 *     fingerprint (any string, e.g. a hash of the output's manifest, "absent" when there is none) is taken
 *     before the first attempt and kept in Redis. When a later attempt (a retry after a crash) finds a different
 *     fingerprint, an earlier attempt may have committed its output (writes are atomic), or another writer may
 *     have changed it: `recover(data, context)` checks which, and returns the result from the committed output
 *     instead of doing the work again, or `undefined` when the output is not this job's (then the job runs).
 *     Without them a retry simply redoes the job, which must then be safe to redo (same seed, same result).
 *
 *   Each job runs in a fresh child process (job_process.ts): module state, tfjs backends and memory never
 *   outlive one job, and a crash (even SIGKILL) of that process fails only that attempt. Work in the process
 *   freely; do not install signal handlers (the process handles SIGTERM: it undoes unfinished state writes
 *   and exits).
 *
 *   Data with a `lineage: { name, seq }` field is run in order per lineage (lineage.ts); other jobs in any
 *   order, in parallel.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import { extname } from "node:path";
import type * as z from "zod";
import { QueueError } from "./errors.js";

/** What `run` gets besides the data. */
export interface JobContext {
  jobId: string;
  /** 1 on the first attempt, 2 on the first retry, ... */
  attempt: number;
}

/** A progress report: percent done, or a small JSON object (e.g. `{ epoch: 3, of: 10 }`). */
export type ReportProgress = (progress: number | Record<string, unknown>) => void;

/** A job kind's module, as the contract above describes it. */
export interface JobKind {
  dataSchema: z.ZodType;
  run(data: unknown, reportProgress: ReportProgress, context: JobContext): Promise<unknown>;
  outputFingerprint?(data: unknown): Promise<string>;
  /** The result from this job's own committed output, or undefined when the output there is not this job's. */
  recover?(data: unknown, context: JobContext): Promise<unknown>;
}

/** Job names that may name a file: no path separators, no dots, nothing to escape jobs/ with. */
const JOB_NAME_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

/** The file of job kind `name` beside this module: .ts when run from source (tsx), .js from dist/. */
export function jobKindFile(name: string): string {
  if (!JOB_NAME_PATTERN.test(name)) throw new QueueError(`job name "${name}" is not a job kind (lower case letters, digits and "-", starting with a letter)`);
  return fileURLToPath(new URL(`./jobs/${name}${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
}

/** Imports and checks the module of job kind `name`; a QueueError when there is none or it breaks the contract. */
export async function loadJobKind(name: string): Promise<JobKind> {
  const file = jobKindFile(name);
  if (!existsSync(file)) throw new QueueError(`no job kind "${name}": there is no ${file} (a worker of an older relearn?)`);
  const module = (await import(pathToFileURL(file).href)) as Partial<JobKind>;
  if (typeof module.run !== "function" || module.dataSchema === undefined || typeof module.dataSchema.safeParse !== "function") {
    throw new QueueError(`${file} does not follow the job-kind contract (src/queue/dispatch.ts): it must export dataSchema (zod) and run()`);
  }
  return module as JobKind;
}

/** Parses a job's data with its kind's schema; a QueueError naming the job and the fields otherwise. */
export function parseJobData(kind: JobKind, name: string, jobId: string, data: unknown): unknown {
  const parsed = kind.dataSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(data)"}: ${issue.message}`).join("; ");
    throw new QueueError(`job ${jobId} (${name}) has invalid data: ${issues}`);
  }
  return parsed.data;
}
