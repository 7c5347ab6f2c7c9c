/**
 * The folder a tuning run's trials write their states into (`<output>.tune-…` for `update --tune`,
 * `<out>/.trials-…` for `tune`): made fresh, removed when the run ends, and also when the process exits first
 * (Ctrl-C: cli/interrupt.ts exits through process.exit, which runs 'exit' listeners, while a pending `finally`
 * never runs).
 *
 * A run killed outright (SIGKILL, a power cut) cannot remove it, and it holds a full state per trial. So it is
 * named after its process, as a state write's leftovers are (atomic_folder.ts: pid, start time, host, boot), and
 * every run first removes the folders of its prefix whose process is gone, telling `onRemoved` (never one of a
 * live run, of this process, or of another host). A folder its run kept on purpose (`keepOnExit`: queued trials
 * still running on workers write into it) holds a KEPT_MARKER file and is left alone, told to `onKept`: the user
 * was told to remove it once those trials finish, and removing it under them made them fail.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rm } from "node:fs/promises";
import { makeWriterFolder, removeDeadWriterFolders } from "../state/atomic_folder.js";
import { untrackFolder } from "../state/in_flight.js";

/**
 * Runs `body` with a new folder named `prefix` + this process's identity + random hex; the folder is gone
 * afterwards. Leftovers of `prefix` from dead runs are removed first, each path passed to `onRemoved`.
 */
/** The file in a work folder kept for trials still running elsewhere; its text says so. */
export const KEPT_MARKER = "KEPT-FOR-RUNNING-TRIALS";

export async function withWorkDir<T>(
  prefix: string,
  body: (dir: string, keepOnExit: () => void) => Promise<T>,
  onRemoved?: (path: string) => void,
  onKept?: (path: string) => void,
): Promise<T> {
  const kept = (path: string) => {
    const keep = existsSync(join(path, KEPT_MARKER));
    if (keep) onKept?.(path);
    return keep;
  };
  for (const path of await removeDeadWriterFolders(prefix, kept)) onRemoved?.(path);
  const dir = await makeWriterFolder(prefix);
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", onExit);
  // `keepOnExit`: an exit now leaves the folder (queued trials still running write into it; tune --queue's Ctrl-C),
  // marked so that later runs leave it too.
  const keepOnExit = () => {
    process.off("exit", onExit);
    writeFileSync(join(dir, KEPT_MARKER), "Kept by an interrupted tuning run: queued trials still running on workers write their states here. Remove this folder once they finish.\n");
  };
  try {
    return await body(dir, keepOnExit);
  } finally {
    process.off("exit", onExit);
    await rm(dir, { recursive: true, force: true });
    untrackFolder(dir);
  }
}
