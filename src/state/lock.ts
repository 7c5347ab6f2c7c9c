/**
 * One writer per state folder: `<outDir>.lock`. A second update writing the
 * same output fails at once with a clear message instead of racing; a lock
 * left by a dead process (killed mid-update) is taken over, and so is one of
 * another host whose lease has run out (its holder stopped renewing it).
 *
 * Every step is atomic, so no interleaving of processes (however slow any one
 * system call) gives two holders:
 * - Acquire: the lock's full content (holder identity plus a random token) is
 *   written to a private file first, then hard-linked to the lock path, which
 *   fails if the lock exists. The lock is never seen empty or half written.
 * - Renew (the lease, below): the holder rewrites the lock's own bytes, in
 *   place and unchanged, through a file it opened and checked holds exactly
 *   its content. A reader sees the same complete content before, during and
 *   after; only the file's mtime moves.
 * - Take over a stale lock: only while holding `<outDir>.lock.takeover`
 *   (created the same way), and only if the lock still holds exactly the
 *   content judged stale (each lock has a random token) and, for a lease
 *   judged run out, still has the mtime judged (not renewed meanwhile): the
 *   lock is renamed aside (atomic), checked, and linked back if it is not the
 *   one judged. Nobody else can change the lock meanwhile: a new holder needs
 *   the path free, a dead holder releases nothing, and other takeovers wait
 *   for the takeover file.
 * - Release: only if the lock holds our own content; it is renamed to a
 *   private name (atomic) and compared once more, and linked back if it
 *   turned out to be someone else's.
 * - Before committing, the holder checks the lock still holds its token and
 *   renews it (`verify`), so even a lock misjudged stale cannot give two
 *   commits: a taker removes the lock before it writes anything, and the
 *   holder, finding its lock gone, commits nothing.
 *
 * The holder is identified by pid, process start time, boot id and host
 * (process_identity.ts), so a reused pid (a container's pid 1) does not make a
 * dead holder look alive.
 *
 * Lease, for holders that cannot be checked from here (another host sharing
 * the file system, e.g. queue workers on several machines): the holder renews
 * its lock every L/3 (L: `leaseMs`, default 60 s, or RELEARN_LOCK_LEASE_MS;
 * recorded in the lock, so readers judge by the holder's own L) for as long
 * as it holds it, with an unref'd timer (it never keeps a process alive), and
 * in `verify`. Another host's lock is stale once it has not been renewed for
 * more than L, and is then taken over as above. A lock of this host keeps the
 * process check (a dead holder is stale at once, a live one never) and is
 * renewed too. No two hosts' clocks are compared: the lock's age is its mtime
 * against the mtime of our own private file rewritten just then in the same
 * folder, and both are stamped by the file system (an NFS server stamps every
 * WRITE with its own clock; open() revalidates cached attributes,
 * close-to-open). So clock skew between hosts does not matter; renewing by a
 * write (not utimes, which would send the client's clock) is what makes this
 * hold. A holder paused longer than L (a stopped VM, a long partition) may be
 * judged gone while it lives: its lock is removed, its renewals then do
 * nothing and its `verify` fails, so it commits nothing. Holders of relearn
 * versions before the lease do not renew: their locks on another host expire
 * after L.
 */
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { link, mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
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

export interface LockOptions {
  /**
   * Lease of the lock in ms (L): the holder renews it every L/3; a lock of another host not renewed for more than L is
   * taken over. Default: RELEARN_LOCK_LEASE_MS, else 60000. The holder's L is recorded in the lock and is the one a
   * reader judges by, so hosts need not agree on it.
   */
  leaseMs?: number;
}

const DEFAULT_LEASE_MS = 60_000;

/**
 * The lock is held on another host under a lease that has not run out: `runsOutInMs` from now it will have, unless
 * its holder renews it (it is alive). A queue job can wait that long and try again (src/queue/jobs/update.ts).
 */
export class LockHeldElsewhereError extends StateError {
  constructor(
    message: string,
    readonly runsOutInMs: number,
  ) {
    super(message);
  }
}

function leaseMsOf(options: LockOptions): number {
  const env = process.env.RELEARN_LOCK_LEASE_MS;
  const value = options.leaseMs ?? (env !== undefined && env !== "" ? Number(env) : DEFAULT_LEASE_MS);
  if (!Number.isFinite(value) || value <= 0) {
    throw new StateError(`the lock lease must be a positive number of ms, got ${options.leaseMs !== undefined ? value : `RELEARN_LOCK_LEASE_MS=${env}`}`);
  }
  return value;
}

/** How long to keep retrying while other processes free, take over or retake the lock under our feet. */
const CONTENTION_MS = 30_000;

/** Takeovers under way in this process (a takeover file naming this process is one of them, or left by an earlier process with our pid). */
let takeoversInProgress = 0;

/** Takes the lock of `outDir` or throws a StateError naming the holder (and, on another host, when its lease runs out). */
export async function lockStateFolder(outDir: string, options: LockOptions = {}): Promise<StateLock> {
  const leaseMs = leaseMsOf(options);
  const path = `${resolve(outDir)}.lock`;
  await mkdir(dirname(path), { recursive: true });
  if (holdsLock(path)) {
    throw new StateError(`${outDir} is already being written by another update in this process (lock ${path})`);
  }
  const token = randomBytes(8).toString("hex");
  const content = `${JSON.stringify({ ...currentProcess(), token, acquired: new Date().toISOString(), leaseMs })}\n`;
  const draft = `${path}.new-${token}`;
  await writeFile(draft, content, { flag: "wx" });
  try {
    const deadline = Date.now() + CONTENTION_MS;
    while (Date.now() < deadline) {
      if (await linkExclusive(draft, path)) return heldLock(path, content, leaseMs);
      const held = await readIfExists(path);
      if (held === undefined) continue; // released meanwhile: try again
      const stale = await judgeStale(held, path, outDir, draft, content, leaseMs);
      if (stale === "changed") continue; // released or replaced while judged: look again
      // Stale (its holder is gone): remove it, unless another process is doing so right now.
      if (!(await takeOver(path, held, stale.mtimeMs, draft, content))) await sleep(10 + Math.random() * 40);
    }
    throw new StateError(`could not take the lock ${path}: other processes kept taking it; try again`);
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

function heldLock(path: string, content: string, leaseMs: number): StateLock {
  let released = false;
  trackLock(path, () => removeIfContentSync(path, content));
  // Renew until released, even after a renewal found no lock: it may be back (a removeIfContent linking it back).
  let renewing: Promise<unknown> | undefined;
  const renewal = setInterval(() => {
    if (renewing !== undefined) return;
    renewing = renewIfContent(path, content)
      .catch(() => undefined)
      .finally(() => (renewing = undefined));
  }, leaseMs / 3);
  renewal.unref();
  return {
    path,
    async verify() {
      // Renewing here also means no taker can judge the lease run out for another L: the commit that follows has time.
      const renewed = released ? undefined : await renewIfContent(path, content).catch(() => undefined);
      if (renewed === undefined) {
        throw new StateError(`lost the lock ${path} (another process took it over): nothing was written; run the update again`);
      }
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(renewal);
      await renewing; // none is left running after release
      untrackLock(path);
      if ((await readIfExists(path)) === content) await removeIfContent(path, content);
    },
  };
}

/**
 * Rewrites the file at `path` with its own bytes, unchanged and in place, if it holds exactly `content`: only its
 * mtime moves, to the file system's clock. Returns that mtime (ms), or undefined if the file is missing or is not
 * `content`. The check and the write go through one open file, so both are about the same file (inode), and an
 * inode holding our random token is our own: the write never lands on another holder's lock, and never changes
 * what a reader sees.
 */
async function renewIfContent(path: string, content: string): Promise<number | undefined> {
  let handle;
  try {
    handle = await open(path, "r+");
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "EISDIR") return undefined;
    throw error;
  }
  try {
    const expected = Buffer.from(content);
    const seen = Buffer.alloc(expected.length + 1);
    const { bytesRead } = await handle.read(seen, 0, seen.length, 0);
    if (bytesRead !== expected.length || !seen.subarray(0, bytesRead).equals(expected)) return undefined;
    await handle.write(expected, 0, expected.length, 0);
    return (await handle.stat()).mtimeMs;
  } finally {
    await handle.close();
  }
}

/** The content and mtime (ms) of the file at `path`, through one open file (opening revalidates NFS's cached attributes). */
async function readWithMtime(path: string): Promise<{ content: string; mtimeMs: number } | undefined> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
  try {
    const content = await handle.readFile("utf8");
    return { content, mtimeMs: (await handle.stat()).mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Throws a StateError when the lock content `held` names a holder that may still be writing. Otherwise the lock is
 * stale: returns the mtime a takeover must still find (when judged by its lease), or "changed" when the lock changed
 * while being judged.
 */
async function judgeStale(
  held: string,
  path: string,
  outDir: string,
  draft: string,
  content: string,
  ownLeaseMs: number,
): Promise<{ mtimeMs?: number } | "changed"> {
  const holder = parseHolder(held);
  if (holder === undefined) return {}; // unreadable: written by no relearn (ours are complete when they appear)
  const status = holderStatus(holder);
  if (status === "alive") {
    throw new StateError(`${outDir} is being written by another update (process ${holder.pid}, lock ${path}); wait for it or choose another output folder`);
  }
  if (status === "other-host") {
    // Its age by the file system's clock alone: the lock's mtime, then that of our own draft, rewritten now next to it.
    const lock = await readWithMtime(path);
    if (lock === undefined || lock.content !== held) return "changed";
    const now = await renewIfContent(draft, content);
    if (now === undefined) throw new StateError(`cannot judge the lock ${path}: our own file ${draft} went missing`);
    const leaseMs = holder.leaseMs ?? ownLeaseMs;
    const age = Math.max(0, now - lock.mtimeMs);
    if (age > leaseMs) return { mtimeMs: lock.mtimeMs };
    throw new LockHeldElsewhereError(
      `${outDir} is being written by another update on host ${holder.hostname} (process ${holder.pid}, lock ${path}); ` +
        `its lease was renewed ${seconds(age)} s ago and runs out in ${seconds(leaseMs - age)} s unless renewed, then it ` +
        `is taken over: wait for that, or, if no update runs there any more, delete ${path}`,
      leaseMs - age,
    );
  }
  if (status === "this-process" && holdsLock(path)) {
    throw new StateError(`${outDir} is already being written by another update in this process (lock ${path})`);
  }
  // "dead", or "this-process" yet not held by this process: an earlier process with our pid (a container's pid 1), gone.
  return {};
}

/** How long ago (ms, by the file system's clock) the file at `path`, holding `held`, was last written; 0 if it changed. */
async function ageOf(path: string, held: string, draft: string, content: string): Promise<number> {
  const file = await readWithMtime(path);
  const now = await renewIfContent(draft, content);
  return file === undefined || file.content !== held || now === undefined ? 0 : Math.max(0, now - file.mtimeMs);
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

/**
 * Removes the stale lock at `path` if it still holds exactly `stale` (and, if given, still has the mtime `mtimeMs`:
 * not renewed since judged), while holding the takeover file (see the module comment). Returns false when the
 * takeover file is busy (another process is taking over: wait and retry).
 */
async function takeOver(path: string, stale: string, mtimeMs: number | undefined, draft: string, content: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  takeoversInProgress++;
  try {
    if (!(await linkExclusive(draft, guard))) {
      const holder = await readIfExists(guard);
      if (holder === undefined) return true; // freed meanwhile: retry at once
      const parsed = parseHolder(holder);
      const status = parsed === undefined ? "dead" : holderStatus(parsed);
      // Held for milliseconds by a live process; one left by a killed process is removed, and so is one of another
      // host older (by the file system's clock, as for a lease) than anyone keeps retrying: its taker is gone.
      const gone =
        status === "dead" ||
        (status === "this-process" && takeoversInProgress === 1) ||
        (status === "other-host" && (await ageOf(guard, holder, draft, content)) > CONTENTION_MS);
      if (gone) await removeIfContent(guard, holder);
      return gone;
    }
    try {
      if ((await readIfExists(path)) === stale) await removeIfContent(path, stale, mtimeMs);
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

/** The holder a lock's content names: our JSON, or a bare pid (locks of relearn 0.1.0); undefined if neither. */
function parseHolder(held: string): (ProcessIdentity & { leaseMs?: number }) | undefined {
  const text = held.trim();
  if (/^\d+$/.test(text)) return { pid: Number(text), hostname: currentProcess().hostname };
  try {
    const json = JSON.parse(text) as Partial<ProcessIdentity> & { leaseMs?: unknown };
    if (typeof json.pid !== "number" || typeof json.hostname !== "string") return undefined;
    return {
      pid: json.pid,
      hostname: json.hostname,
      ...(typeof json.startTime === "string" ? { startTime: json.startTime } : {}),
      ...(typeof json.bootId === "string" ? { bootId: json.bootId } : {}),
      ...(typeof json.leaseMs === "number" && json.leaseMs > 0 ? { leaseMs: json.leaseMs } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Removes the file at `path` if and only if it holds `expected` (and, if given,
 * has the mtime `mtimeMs`): renames it away (atomic), compares, and links it
 * back if it turned out to be another holder's (or renewed since judged).
 * Returns whether it was removed.
 */
async function removeIfContent(path: string, expected: string, mtimeMs?: number): Promise<boolean> {
  const aside = `${path}.gone-${randomBytes(8).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
  try {
    const seen = await readWithMtime(aside);
    if (seen !== undefined && seen.content === expected && (mtimeMs === undefined || seen.mtimeMs === mtimeMs)) return true;
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
