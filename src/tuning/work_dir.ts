/**
 * The folder a tuning run's trials write their states into (`<output>.tune-…` for `update --tune`,
 * `<out>/.trials-…` for `tune`): made fresh, removed when the run ends, and also when the process exits first
 * (Ctrl-C: cli/interrupt.ts exits through process.exit, which runs 'exit' listeners, while a pending `finally`
 * never runs).
 *
 * A run killed outright (SIGKILL, a power cut) cannot remove it, and it holds a full state per trial. So it is
 * named after its process, as a state write's leftovers are (atomic_folder.ts: pid, start time, host, boot), and
 * every run first removes the folders of its prefix whose process is gone, telling `onRemoved` (never one of a
 * live run, of this process, or of another host).
 */
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { makeWriterFolder, removeDeadWriterFolders } from "../state/atomic_folder.js";
import { untrackFolder } from "../state/in_flight.js";

/**
 * Runs `body` with a new folder named `prefix` + this process's identity + random hex; the folder is gone
 * afterwards. Leftovers of `prefix` from dead runs are removed first, each path passed to `onRemoved`.
 */
export async function withWorkDir<T>(
  prefix: string,
  body: (dir: string, keepOnExit: () => void) => Promise<T>,
  onRemoved?: (path: string) => void,
): Promise<T> {
  for (const path of await removeDeadWriterFolders(prefix)) onRemoved?.(path);
  const dir = await makeWriterFolder(prefix);
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", onExit);
  // `keepOnExit`: an exit now leaves the folder (queued trials still running write into it; tune --queue's Ctrl-C).
  const keepOnExit = () => void process.off("exit", onExit);
  try {
    return await body(dir, keepOnExit);
  } finally {
    process.off("exit", onExit);
    await rm(dir, { recursive: true, force: true });
    untrackFolder(dir);
  }
}
