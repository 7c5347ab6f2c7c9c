/**
 * The child process one job runs in (forked by run_in_child.ts, one process per attempt): loads the job kind's
 * module (dispatch.ts), parses the data, checks the fingerprint of what an earlier attempt may have written,
 * runs the job and sends the result back over the IPC channel. Messages: protocol in job_protocol.ts.
 *
 * SIGTERM, SIGINT or the worker going away (the IPC channel closes, e.g. the worker was SIGKILLed) stop the job
 * the way `relearn update` stops on Ctrl-C: a commit under way finishes (milliseconds), unfinished temporary
 * folders and locks are removed, and the process exits. An orphaned job never goes on writing while another
 * worker retries it.
 */
import { RelearnError, StateError } from "../errors.js";
import { commitSettled, undoInFlightSync } from "../state/in_flight.js";
import { loadJobKind, parseJobData } from "./dispatch.js";
import type { ChildMessage, ParentMessage } from "./job_protocol.js";

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, undefined, {}, () => resolve());
  });
}

let stopping = false;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await commitSettled();
    undoInFlightSync();
    process.exit(code);
  })();
}
process.on("SIGTERM", () => stop(143));
process.on("SIGINT", () => stop(130));
process.on("disconnect", () => stop(129));

let savedFingerprint: ((value: string) => void) | undefined;

async function runJob(start: Extract<ParentMessage, { cmd: "start" }>): Promise<void> {
  try {
    const kind = await loadJobKind(start.name);
    const data = parseJobData(kind, start.name, start.jobId, start.data);
    if (kind.outputFingerprint !== undefined) {
      const now = await kind.outputFingerprint(data);
      // The parent keeps the first attempt's fingerprint in Redis and answers with it.
      const first = await new Promise<string>((resolve) => {
        savedFingerprint = resolve;
        void send({ cmd: "fingerprint", value: now });
      });
      if (first !== now && kind.recover !== undefined) {
        // Changed since the first attempt: by an earlier attempt of this job (then done), or by another writer.
        const recovered = await kind.recover(data, { jobId: start.jobId, attempt: start.attempt });
        if (recovered !== undefined) {
          await send({ cmd: "done", result: recovered, recovered: true });
          return;
        }
      }
    }
    const result = await kind.run(data, (value) => void send({ cmd: "progress", value }), { jobId: start.jobId, attempt: start.attempt });
    await send({ cmd: "done", result: result ?? null, recovered: false });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    // Bad options or data fail the same way every time; a StateError may be a lock another process held.
    const retry = !(e instanceof RelearnError) || e instanceof StateError;
    await send({ cmd: "failed", error: { name: e.name, message: e.message, stack: e.stack ?? "" }, retry });
  }
}

process.on("message", (message: ParentMessage) => {
  if (message.cmd === "start") {
    void runJob(message).then(() => {
      stopping = true; // the channel closing now is the end of the job, not the worker going away
      process.exit(0);
    });
  } else if (message.cmd === "fingerprint-saved") {
    savedFingerprint?.(message.value);
  }
});
