/** The IPC messages between a worker (run_in_child.ts) and the process one job runs in (job_process.ts). */

export type ParentMessage =
  | { cmd: "start"; name: string; jobId: string; attempt: number; data: unknown }
  /** The fingerprint Redis keeps for the job: the first attempt's (see dispatch.ts, outputFingerprint). */
  | { cmd: "fingerprint-saved"; value: string };

export type ChildMessage =
  | { cmd: "fingerprint"; value: string }
  | { cmd: "progress"; value: number | Record<string, unknown> }
  | { cmd: "done"; result: unknown; recovered: boolean }
  /** `retry`: false when retrying cannot help (bad options or data), so the job fails for good. */
  | { cmd: "failed"; error: { name: string; message: string; stack: string }; retry: boolean };
