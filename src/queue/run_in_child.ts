/**
 * Runs one job attempt in a fresh child process (job_process.ts) and relays its messages.
 *
 * Why a fresh process per attempt rather than BullMQ's sandboxed processor: BullMQ keeps sandbox children in a
 * pool and reuses them for later jobs, so a job's leftovers (tfjs backend state, wasm thread pools, leaked
 * tensors, a half-initialised module) would reach the next job. A new process per attempt costs about a second
 * of start-up (tfjs import), which is small next to an update, and makes "a crash cannot poison the next job"
 * hold by construction. The BullMQ side (locks, retries, stalled-job recovery) stays BullMQ's.
 */
import { fork, type ChildProcess } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildMessage, ParentMessage } from "./job_protocol.js";

export interface ChildJob {
  name: string;
  id: string;
  data: unknown;
  attempt: number;
}

export interface ChildHooks {
  onProgress(value: number | Record<string, unknown>): void;
  /** Keeps `value` as the job's first fingerprint unless one is kept already; resolves to the kept one. */
  saveFingerprint(value: string): Promise<string>;
}

/** A failed attempt; `retry` false when retrying cannot help. */
export class JobAttemptError extends Error {
  override name = "JobAttemptError";
  constructor(
    message: string,
    readonly retry: boolean,
    readonly originalName: string,
  ) {
    super(message);
  }
}

export interface ChildRun {
  result: Promise<{ result: unknown; recovered: boolean }>;
  /** Stops the attempt: SIGTERM (the child undoes unfinished writes and exits). */
  stop(): void;
  pid: number | undefined;
}

/** job_process.ts from source (tsx), job_process.js from dist/. */
const JOB_PROCESS = fileURLToPath(new URL(`./job_process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

export function runInChild(job: ChildJob, hooks: ChildHooks): ChildRun {
  // execArgv is inherited, so a worker started through tsx runs the child's .ts the same way.
  const child: ChildProcess = fork(JOB_PROCESS, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const result = new Promise<{ result: unknown; recovered: boolean }>((resolve, reject) => {
    let settled = false;
    child.on("message", (message: ChildMessage) => {
      if (message.cmd === "progress") hooks.onProgress(message.value);
      else if (message.cmd === "fingerprint") {
        void hooks.saveFingerprint(message.value).then(
          (kept) => child.send({ cmd: "fingerprint-saved", value: kept } satisfies ParentMessage),
          (error: Error) => {
            settled = true;
            child.kill("SIGTERM");
            reject(new JobAttemptError(`cannot keep the job's fingerprint in Redis: ${error.message}`, true, error.name));
          },
        );
      } else if (message.cmd === "done") {
        settled = true;
        resolve({ result: message.result, recovered: message.recovered });
      } else if (message.cmd === "failed") {
        settled = true;
        reject(new JobAttemptError(`${message.error.name}: ${message.error.message}`, message.retry, message.error.name));
      }
    });
    child.on("error", (error) => {
      if (settled) return;
      settled = true;
      reject(new JobAttemptError(`cannot start the job's process: ${error.message}`, true, error.name));
    });
    child.on("exit", (code, signal) => {
      if (settled) return;
      settled = true;
      reject(new JobAttemptError(`the job's process (pid ${child.pid}) ended before finishing (${signal === null ? `exit code ${code}` : signal})`, true, "ProcessExit"));
    });
  });
  child.send({ cmd: "start", name: job.name, jobId: job.id, attempt: job.attempt, data: job.data } satisfies ParentMessage);
  return { result, stop: () => void child.kill("SIGTERM"), pid: child.pid };
}
