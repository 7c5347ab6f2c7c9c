/**
 * What this process has in flight in state folders: the locks it holds, the
 * temporary and `.old-` folders of its writes, and whether a commit (the two
 * renames that swap a new state in) is under way.
 *
 * Two uses:
 * - A signal handler (Ctrl-C) undoes it all synchronously before exiting:
 *   `undoInFlightSync` removes unfinished temporary folders and releases the
 *   locks, so an interrupted update leaves nothing behind.
 * - A crash leftover named with this process's pid that is NOT in flight here
 *   was left by an earlier process that had the same pid (a container
 *   restarts its job as pid 1 every time): it is dead, whatever `kill(pid, 0)`
 *   says.
 */
import { rmSync } from "node:fs";

const folders = new Set<string>();
const lockReleasers = new Map<string, () => void>();
let commit: Promise<unknown> | undefined;
let commits = 0;

/** Marks `path` (absolute) as a folder this process is writing or swapping. */
export function trackFolder(path: string): void {
  folders.add(path);
}

/** The folder is finished (moved into place or removed). */
export function untrackFolder(path: string): void {
  folders.delete(path);
}

/** True when `path` is a temporary or `.old-` folder of a write in progress in this process. */
export function isOwnFolder(path: string): boolean {
  return folders.has(path);
}

/** Registers a held lock (by its path) and how to release it synchronously. */
export function trackLock(path: string, releaseSync: () => void): void {
  lockReleasers.set(path, releaseSync);
}

export function untrackLock(path: string): void {
  lockReleasers.delete(path);
}

/** True when this process holds the lock at `path`. */
export function holdsLock(path: string): boolean {
  return lockReleasers.has(path);
}

/**
 * Runs `swap` (the renames that commit `target`) as the commit in progress,
 * so a signal handler can wait for it rather than exit between the renames.
 */
export async function runCommit<T>(swap: () => Promise<T>): Promise<T> {
  const running = swap();
  commit = running;
  try {
    const result = await running;
    commits++;
    return result;
  } finally {
    if (commit === running) commit = undefined;
  }
}

/** Resolves once no commit is under way (at once when none is). Never rejects. */
export async function commitSettled(): Promise<void> {
  while (commit !== undefined) await commit.catch(() => undefined);
}

/** How many state folders this process has committed so far. */
export function commitCount(): number {
  return commits;
}

/**
 * Removes every unfinished temporary folder and releases every lock of this
 * process, synchronously (for a signal handler about to exit). Call it only
 * when no commit is under way (await `commitSettled()` first): an `.old-`
 * folder mid-commit is the previous state, and is left alone.
 */
export function undoInFlightSync(): void {
  for (const path of folders) {
    if (/\.tmp-[0-9a-fx-]+$/.test(path)) rmSync(path, { recursive: true, force: true });
  }
  folders.clear();
  for (const release of lockReleasers.values()) {
    try {
      release();
    } catch {
      // Exiting anyway: a lock that could not be removed is taken over by the next run (this process is gone).
    }
  }
  lockReleasers.clear();
}
