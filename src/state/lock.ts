/**
 * One writer per state folder: `<outDir>.lock`. A second update writing the
 * same output fails at once with a clear message instead of racing; a lock
 * left by a dead process (killed mid-update) is taken over.
 *
 * Every step is atomic, so no interleaving of processes (however slow any one
 * system call) gives two holders:
 * - Acquire: the lock's full content (holder identity plus a random token) is
 *   written to a private file first, then hard-linked to the lock path, which
 *   fails if the lock exists. The lock is never seen empty or half written.
 * - Take over a stale lock: only while holding `<outDir>.lock.takeover`
 *   (created the same way), and only if the lock still holds exactly the
 *   content judged stale (each lock has a random token). Nobody else can
 *   change the lock meanwhile: a new holder needs the path free, a dead
 *   holder releases nothing, and other takeovers wait for the takeover file.
 *   So a live winner's lock is never deleted.
 * - Release: only if the lock holds our own content; it is renamed to a
 *   private name (atomic) and compared once more, and linked back if it
 *   turned out to be someone else's.
 * - Before committing, the holder checks the lock still holds its token
 *   (`verify`), so even a lock misjudged stale cannot give two commits.
 *
 * The holder is identified by pid, process start time, boot id and host
 * (process_identity.ts), so a reused pid (a container's pid 1) does not make a
 * dead holder look alive. A lock held on another host is never taken over:
 * the message says how to remove it.
 */
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { link, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StateError } from "../errors.js";
import { errorCode } from "./atomic_folder.js";
import { holdsLock, trackLock, untrackLock } from "./in_flight.js";
import { currentProcess, holderStatus, type ProcessIdentity } from "./process_identity.js";

export interface StateLock {
  readonly path: string;
  /** Throws a StateError if the lock is no longer this holder's (taken over by another process). */
  verify(): Promise<void>;
  /** Removes the lock if it is still this holder's; never another process's. */
  release(): Promise<void>;
}

/** How long to keep retrying while other processes free, take over or retake the lock under our feet. */
const CONTENTION_MS = 30_000;

/** Takeovers under way in this process (a takeover file naming this process is one of them, or left by an earlier process with our pid). */
let takeoversInProgress = 0;

/** Takes the lock of `outDir` or throws a StateError naming the holder. */
export async function lockStateFolder(outDir: string): Promise<StateLock> {
  const path = `${resolve(outDir)}.lock`;
  await mkdir(dirname(path), { recursive: true });
  if (holdsLock(path)) {
    throw new StateError(`${outDir} is already being written by another update in this process (lock ${path})`);
  }
  const token = randomBytes(8).toString("hex");
  const content = `${JSON.stringify({ ...currentProcess(), token, acquired: new Date().toISOString() })}\n`;
  const draft = `${path}.new-${token}`;
  await writeFile(draft, content, { flag: "wx" });
  try {
    const deadline = Date.now() + CONTENTION_MS;
    while (Date.now() < deadline) {
      if (await linkExclusive(draft, path)) return heldLock(path, content);
      const held = await readIfExists(path);
      if (held === undefined) continue; // released meanwhile: try again
      refuseLiveHolder(held, path, outDir);
      // Stale (its holder is gone): remove it, unless another process is doing so right now.
      if (!(await takeOver(path, held, draft, content))) await sleep(10 + Math.random() * 40);
    }
    throw new StateError(`could not take the lock ${path}: other processes kept taking it; try again`);
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

function heldLock(path: string, content: string): StateLock {
  let released = false;
  trackLock(path, () => removeIfContentSync(path, content));
  return {
    path,
    async verify() {
      const now = await readFile(path, "utf8").catch(() => "");
      if (released || now !== content) {
        throw new StateError(`lost the lock ${path} (another process took it over): nothing was written; run the update again`);
      }
    },
    async release() {
      if (released) return;
      released = true;
      untrackLock(path);
      if ((await readIfExists(path)) === content) await removeIfContent(path, content);
    },
  };
}

/**
 * Removes the stale lock at `path` if it still holds exactly `stale`, while
 * holding the takeover file (see the module comment). Returns false when the
 * takeover file is busy (another process is taking over: wait and retry).
 */
async function takeOver(path: string, stale: string, draft: string, content: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  takeoversInProgress++;
  try {
    if (!(await linkExclusive(draft, guard))) {
      const holder = await readIfExists(guard);
      if (holder === undefined) return true; // freed meanwhile: retry at once
      const parsed = parseHolder(holder);
      const status = parsed === undefined ? "dead" : holderStatus(parsed);
      // Held for milliseconds by a live process; one left by a killed process is removed.
      const gone = status === "dead" || (status === "this-process" && takeoversInProgress === 1);
      if (gone) await removeIfContent(guard, holder);
      return gone;
    }
    try {
      if ((await readIfExists(path)) === stale) await unlink(path);
    } finally {
      await removeIfContent(guard, content);
    }
    return true;
  } finally {
    takeoversInProgress--;
  }
}

/** link(2): creates `path` as another name of the complete file `source`, failing (false) if `path` exists. */
async function linkExclusive(source: string, path: string): Promise<boolean> {
  try {
    await link(source, path);
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    if (errorCode(error) === "EISDIR") {
      // Not ours (relearn only ever makes files there): a person has to decide what it is.
      throw new StateError(
        `${path} is a folder, but relearn keeps a lock file at that path to allow one update at a time: ` +
          `move or delete that folder, then run the update again`,
        { cause: error },
      );
    }
    throw new StateError(`cannot read the lock ${path}: ${String(error)}`, { cause: error });
  }
}

/** Throws a StateError when the lock content `held` names a holder that may still be writing. */
function refuseLiveHolder(held: string, path: string, outDir: string): void {
  const holder = parseHolder(held);
  if (holder === undefined) return; // unreadable: written by no relearn (ours are complete when they appear)
  const status = holderStatus(holder);
  if (status === "alive") {
    throw new StateError(`${outDir} is being written by another update (process ${holder.pid}, lock ${path}); wait for it or choose another output folder`);
  }
  if (status === "other-host") {
    throw new StateError(
      `${outDir} is being written by another update on host ${holder.hostname} (process ${holder.pid}, lock ${path}); ` +
        `if no update runs there any more, delete ${path}`,
    );
  }
  if (status === "this-process" && holdsLock(path)) {
    throw new StateError(`${outDir} is already being written by another update in this process (lock ${path})`);
  }
  // "this-process" yet not held by this process: an earlier process with our pid (a container's pid 1), gone.
}

/** The holder a lock's content names: our JSON, or a bare pid (locks of relearn 0.1.0); undefined if neither. */
function parseHolder(held: string): ProcessIdentity | undefined {
  const text = held.trim();
  if (/^\d+$/.test(text)) return { pid: Number(text), hostname: currentProcess().hostname };
  try {
    const json = JSON.parse(text) as Partial<ProcessIdentity>;
    if (typeof json.pid !== "number" || typeof json.hostname !== "string") return undefined;
    return {
      pid: json.pid,
      hostname: json.hostname,
      ...(typeof json.startTime === "string" ? { startTime: json.startTime } : {}),
      ...(typeof json.bootId === "string" ? { bootId: json.bootId } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Removes the file at `path` if and only if it holds `expected`: renames it
 * away (atomic), compares, and links it back if it turned out to be another
 * holder's. Returns whether it was removed.
 */
async function removeIfContent(path: string, expected: string): Promise<boolean> {
  const aside = `${path}.gone-${randomBytes(8).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
  try {
    if ((await readFile(aside, "utf8")) === expected) return true;
    // Another holder's live lock: put it back. If a third process took the free path meanwhile, that one
    // holds the lock, and the moved holder's verify() fails before it commits.
    await link(aside, path).catch((error: unknown) => (errorCode(error) === "EEXIST" ? undefined : Promise.reject(error)));
    return false;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

/** removeIfContent, synchronously, for a signal handler about to exit. */
function removeIfContentSync(path: string, expected: string): void {
  const aside = `${path}.gone-${randomBytes(8).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  try {
    if (readFileSync(aside, "utf8") !== expected) linkSync(aside, path);
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // already gone
    }
  }
}
