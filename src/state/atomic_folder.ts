/**
 * Writing a state folder atomically: a reader sees either the previous state
 * or the new one, whole, never a mix, even if the process dies midway.
 *
 * The new state is built in a temporary sibling `<outDir>.tmp-<writer>-<hex>`,
 * checksummed, given its manifest.json LAST (a folder with a manifest is a
 * finished folder), fsynced, then swapped in with two renames in the same
 * parent folder: outDir -> `<outDir>.old-<writer>-<hex>`, tmp -> outDir. The old
 * folder is removed only once the new one is durable. `<writer>` is the
 * writing process's identity (`<pid>-<start time>-<host hash>-<boot hash>`,
 * see {@link writerTag}), the same identity a lock records (process_identity.ts):
 * a pid alone cannot tell a live writer from an unrelated process that got
 * its pid since (a container's pid 1 on every restart).
 *
 * Crash leftovers and how they are handled:
 * - `.tmp-` sibling (crash while writing): ignored by readers; removed by the
 *   next successful write (or recovery, below) once the process that made it
 *   is gone.
 * - `.old-` sibling next to an existing outDir (crash after the swap): same.
 * - `.old-` sibling and NO outDir (crash between the two renames): the
 *   `.old-` folder is the last committed state (the new one was never
 *   committed: its write did not return). `recoverInterruptedSwap` renames it
 *   back, so the next read or write just works and an unattended job does
 *   not stop for a person. It is never done while the writer may still be
 *   mid-swap: its process (pid AND start time, same boot) still runs, or it
 *   ran on another host. Leftovers named by relearn before the identity was
 *   recorded (`<pid>-<hex>`) are judged by their pid only.
 *
 * One writer at a time per outDir (lock.ts); concurrent writers to the same
 * path are not supported.
 *
 * Crash injection for tests: RELEARN_TEST_CRASH_AT=before-swap,
 * between-renames or after-swap makes the process SIGKILL itself there;
 * with RELEARN_TEST_CRASH_ONCE=<file> too, only while that file does not
 * exist (it is created just before the crash), so a retry gets through.
 */
import { randomBytes, createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rm, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { basename, dirname, join } from "node:path";
import { StateError } from "../errors.js";
import {
  LIBRARY_NAME,
  LIBRARY_VERSION,
  MANIFEST_FILE,
  STATE_FORMAT_VERSION,
  canonicalJson,
  manifestToJson,
  sealManifest,
  type FileEntry,
  type StateManifest,
} from "./format.js";
import { realStatePath } from "./real_path.js";
import { currentProcess, holderStatus, type HolderStatus, type ProcessIdentity } from "./process_identity.js";
import { isOwnFolder, runCommit, trackFolder, untrackFolder } from "./in_flight.js";

/** Options of {@link writeStateFolder}. */
export interface WriteStateFolderOptions {
  /** What writes the folder, e.g. "repeated-distillation"; checked again on read. */
  kind: string;
  /**
   * The updater's own JSON, stored in manifest.json (keys sorted; no NaN, typed
   * arrays or class instances). Omit it when `write` returns the data instead
   * (useful when the data describes the files written).
   */
  data?: unknown;
  /**
   * Fills the temporary folder with every file of the state (model files,
   * columns, JSON). Regular files and subfolders only; not manifest.json.
   * Whatever it throws is rethrown after the temporary folder is removed.
   * A value it returns (other than undefined) becomes the manifest's data.
   */
  write: (tmpDir: string) => Promise<unknown> | unknown;
  /**
   * Called once the new folder is complete, just before it is swapped in;
   * what it throws aborts the write (outDir untouched). The updater checks
   * there that it still holds the output's lock.
   */
  beforeSwap?: () => Promise<void>;
}

/**
 * Writes a complete state folder at `outDir`, replacing the one there (which
 * may be the very folder the caller resumed from). On any error outDir is left
 * exactly as it was and no temporary folder remains. Refuses to replace a
 * non-empty folder without manifest.json, so a mistyped path cannot delete a
 * user's files. Returns the manifest written.
 */
export async function writeStateFolder(outDir: string, options: WriteStateFolderOptions): Promise<StateManifest> {
  // A symlinked outDir is followed: the new state replaces the folder it points to (real_path.ts).
  const target = await realStatePath(outDir);
  if (typeof options.kind !== "string" || options.kind === "") {
    throw new StateError(`writeStateFolder(${outDir}): kind must be a non-empty string`);
  }
  // Serialise once up front: data that cannot be stored fails before anything is touched.
  if (options.data !== undefined) canonicalJson(options.data, "data");
  await mkdir(dirname(target), { recursive: true });
  await recoverInterruptedSwap(target);
  await checkReplaceable(target);

  const tmp = `${target}.tmp-${writerTag()}-${randomHex()}`;
  trackFolder(tmp);
  try {
    await mkdir(tmp);
    let manifest: StateManifest;
    try {
      const written = await options.write(tmp);
      const data = written === undefined ? (options.data ?? {}) : written;
      canonicalJson(data, "data");
      const files = await checksumAndSync(tmp);
      manifest = await sealManifest({
        formatVersion: STATE_FORMAT_VERSION,
        library: { name: LIBRARY_NAME, version: LIBRARY_VERSION },
        kind: options.kind,
        files,
        data,
      });
      const text = manifestToJson(manifest);
      await writeFileSynced(join(tmp, MANIFEST_FILE), text);
      await fsyncFolder(tmp);
      manifest = JSON.parse(text) as StateManifest;
      await options.beforeSwap?.();
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
    crashPointForTests("before-swap");
    await runCommit(() => swapIn(tmp, target));
    await removeLeftovers(target);
    return manifest;
  } finally {
    untrackFolder(tmp);
  }
}

/**
 * Undoes a write that stopped between its two renames: when `target` (an
 * absolute path) is missing and exactly one `.old-` sibling exists whose
 * writer is gone, renames it back to `target`. Returns the folder it
 * recovered from, or undefined when there was nothing to do. While the
 * writer may still be alive (mid-swap), waits for it up to `waitMs`, then
 * throws a StateError saying what to do; so does an ambiguous case (several
 * `.old-` siblings).
 */
export async function recoverInterruptedSwap(target: string, waitMs = 5000): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await exists(target)) return undefined;
    const old = (await findLeftoverSiblings(target)).filter((leftover) => leftover.type === "old");
    if (old.length === 0) return undefined;
    const [leftover] = old;
    const writerGone = old.length === 1 && leftover !== undefined && isWriterGone(leftover);
    if (writerGone) {
      try {
        await rename(leftover.path, target);
      } catch (error) {
        // Another reader recovered it first: fine if the state is back in place.
        if (await exists(target)) return undefined;
        throw new StateError(`could not move ${leftover.path} back to ${target}: ${String(error)}`, { cause: error });
      }
      await fsyncFolder(dirname(target));
      // The crashed write's other leftovers (its .tmp- folder) are garbage now too: a reader need not leave them.
      await removeLeftovers(target);
      return leftover.path;
    }
    if (old.length > 1 || Date.now() >= deadline) {
      const running = leftover !== undefined && writerStatus(leftover) === "other-host"
        ? " (it was written on another host, where its process may still run)"
        : " (or its process is still running)";
      throw new StateError(
        `${target} is missing but ${old.map((o) => o.path).join(" and ")} exists: a write of this state folder ` +
          `stopped between its two renames${old.length > 1 ? "" : running}, and that ` +
          `folder is the last complete state. Rename it to ${target} to resume from it, or delete it to start fresh.`,
      );
    }
    await sleep(50); // a live writer is between its two renames: they take milliseconds
  }
}

/** A crash leftover next to a state folder: `<base>.tmp-<writer>-<hex>` or `<base>.old-<writer>-<hex>`. */
export interface LeftoverSibling {
  path: string;
  type: "tmp" | "old";
  /**
   * The process that made it, as recorded in its name; `hostname` and `bootId` are 8-hex-digit hashes (see
   * {@link writerTag}). Names without the identity (older relearn) give the pid only.
   */
  writer: ProcessIdentity;
}

/**
 * The writer part of a leftover's name: `<pid>-<start time or x>-<host hash>-<boot hash>`, hashes being the first
 * 8 hex digits of the SHA-256 of the host name and of the boot id ("" where unknown). Hashed to keep names short
 * and free of characters a host name may hold.
 */
export function writerTag(identity: ProcessIdentity = currentProcess()): string {
  return `${identity.pid}-${identity.startTime ?? "x"}-${hash8(identity.hostname)}-${hash8(identity.bootId ?? "")}`;
}

function hash8(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 8);
}

/** What a leftover's writer is, seen from this process (identities compared through their hashes). */
function writerStatus(leftover: WriterFolder): HolderStatus {
  const self = currentProcess();
  return holderStatus(leftover.writer, { ...self, hostname: hash8(self.hostname), bootId: hash8(self.bootId ?? "") });
}

/**
 * True when no process can still be using `leftover`: its writer is dead (pid gone, or now another process's,
 * or the host rebooted), or it carries this process's identity without being one of its writes in flight.
 */
export function isWriterGone(leftover: WriterFolder): boolean {
  if (isOwnFolder(leftover.path)) return false;
  const status = writerStatus(leftover);
  return status === "dead" || status === "this-process";
}

/** The `.tmp-` and `.old-` siblings of `target` (an absolute path), sorted by name. */
export async function findLeftoverSiblings(target: string): Promise<LeftoverSibling[]> {
  const base = basename(target);
  const leftovers: LeftoverSibling[] = [];
  for (const type of ["old", "tmp"] as const) {
    for (const folder of await findWriterFolders(join(dirname(target), `${base}.${type}-`))) leftovers.push({ ...folder, type });
  }
  return leftovers.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A folder named after the process that made it: `<prefix><writer>-<hex>` (see {@link makeWriterFolder}). */
export interface WriterFolder {
  path: string;
  /** As in {@link LeftoverSibling}. */
  writer: ProcessIdentity;
}

/**
 * The entries named `<prefix><writer>-<8 hex>` (`prefix` an absolute path plus the start of a name, e.g.
 * "/data/v3.tune-"), sorted by name. Names without the identity (older relearn: `<pid>-<hex>`) give the pid only.
 */
export async function findWriterFolders(prefix: string): Promise<WriterFolder[]> {
  const parent = dirname(prefix);
  const start = basename(prefix);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return [];
    throw error;
  }
  const found: WriterFolder[] = [];
  for (const name of names.sort()) {
    if (!name.startsWith(start)) continue;
    const match = /^(\d+)(?:-(\d+|x)-([0-9a-f]{8})-([0-9a-f]{8}))?-[0-9a-f]{8}$/.exec(name.slice(start.length));
    if (!match) continue;
    const [, pid, startTime, host, boot] = match;
    // Without a recorded identity (older names), the host is taken as ours and only the pid is compared.
    const writer: ProcessIdentity = host === undefined
      ? { pid: Number(pid), hostname: hash8(currentProcess().hostname) }
      : { pid: Number(pid), hostname: host, ...(boot === undefined ? {} : { bootId: boot }), ...(startTime === undefined || startTime === "x" ? {} : { startTime }) };
    found.push({ path: join(parent, name), writer });
  }
  return found;
}

/**
 * Makes a new folder `<prefix><writer tag>-<hex>` for this process's work (a tuning run's trial states), so a
 * later run can tell, as for a write's leftovers, whether the process that made it is gone. Tracked as in flight
 * (in_flight.ts) until the caller untracks it, so this process never takes it for a leftover of an earlier one.
 */
export async function makeWriterFolder(prefix: string): Promise<string> {
  const path = `${prefix}${writerTag()}-${randomHex()}`;
  await mkdir(path);
  trackFolder(path);
  return path;
}

/**
 * Removes the folders `<prefix><writer>-<hex>` whose writer is gone (what a killed run left: never one of a live
 * process, or of another host), except those `keep` says to keep; returns their paths, for the caller to say what
 * it removed.
 */
export async function removeDeadWriterFolders(prefix: string, keep: (path: string) => boolean = () => false): Promise<string[]> {
  const removed: string[] = [];
  for (const folder of await findWriterFolders(prefix)) {
    if (!isWriterGone(folder) || keep(folder.path)) continue;
    await rm(folder.path, { recursive: true, force: true });
    removed.push(folder.path);
  }
  return removed;
}

/**
 * Throws a StateError unless `target` (absolute) is absent, an empty folder or a state folder: what
 * writeStateFolder may replace. Updaters call it before training too, so a wrong output fails at once.
 */
export async function checkReplaceable(target: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(target);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw error;
  }
  if (!stats.isDirectory()) {
    throw new StateError(`${target} exists and is not a folder: refusing to replace it with a state folder`);
  }
  const names = await readdir(target);
  if (names.length > 0 && !names.includes(MANIFEST_FILE)) {
    throw new StateError(
      `${target} is not empty and has no ${MANIFEST_FILE}: it does not look like a state folder, refusing to replace it`,
    );
  }
}

/** Checksums and fsyncs every file under `root`, returning the manifest's `files` (sorted paths). */
async function checksumAndSync(root: string): Promise<Record<string, FileEntry>> {
  const files: Record<string, FileEntry> = {};
  async function walk(folder: string, prefix: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = prefix + entry.name;
      const path = join(folder, entry.name);
      if (relative === MANIFEST_FILE) {
        throw new StateError(`the write callback created ${path}: ${MANIFEST_FILE} is reserved for the state folder's manifest`);
      }
      if (entry.isDirectory()) {
        await walk(path, `${relative}/`);
      } else if (entry.isFile()) {
        files[relative] = await hashAndSyncFile(path);
      } else {
        // A symlink would be followed on read and could point anywhere: the folder must be self-contained.
        throw new StateError(`the write callback created ${path}, which is not a regular file or folder`);
      }
    }
    await fsyncFolder(folder);
  }
  await walk(root, "");
  return files;
}

async function hashAndSyncFile(path: string): Promise<FileEntry> {
  // "r+" rather than "r": Windows cannot flush a file opened read-only.
  const handle = await open(path, "r+");
  try {
    const hash = createHash("sha256");
    const chunk = Buffer.allocUnsafe(1 << 20);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, bytes);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    await handle.sync();
    return { sha256: hash.digest("hex"), bytes };
  } finally {
    await handle.close();
  }
}

async function writeFileSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await writeFile(handle, text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a folder's entries (new names, renames) durable. Not possible on Windows: skipped there. */
async function fsyncFolder(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, "r");
    await handle.sync();
  } catch (error) {
    if (!["EISDIR", "EPERM", "EACCES", "EINVAL", "EBADF"].includes(errorCode(error) ?? "")) throw error;
  } finally {
    await handle?.close();
  }
}

async function swapIn(tmp: string, target: string): Promise<void> {
  let old: string | undefined;
  try {
    if (await exists(target)) {
      old = `${target}.old-${writerTag()}-${randomHex()}`;
      trackFolder(old);
      await rename(target, old);
      crashPointForTests("between-renames");
    }
    await rename(tmp, target);
  } catch (error) {
    // Put the previous state back where it was; the new one is lost, as it would be had the write failed earlier.
    if (old !== undefined && !(await exists(target))) await rename(old, target).catch(() => undefined);
    if (old !== undefined) untrackFolder(old);
    await rm(tmp, { recursive: true, force: true });
    throw new StateError(`could not move the new state folder into place at ${target}: ${String(error)}`, { cause: error });
  }
  await fsyncFolder(dirname(target));
  crashPointForTests("after-swap");
  if (old !== undefined) {
    await rm(old, { recursive: true, force: true });
    untrackFolder(old);
  }
}

/**
 * Removes crash leftovers of processes that are gone; never those of a live
 * process (maybe a writer mid-way) or of another host. One named with our own
 * identity that is not in flight here is a leftover of an earlier write.
 */
async function removeLeftovers(target: string): Promise<void> {
  for (const leftover of await findLeftoverSiblings(target)) {
    if (isWriterGone(leftover)) await rm(leftover.path, { recursive: true, force: true });
  }
}

/** Test-only crash injection (see the module comment): dies here, as a SIGKILL would. */
function crashPointForTests(point: "before-swap" | "between-renames" | "after-swap"): void {
  if (process.env.RELEARN_TEST_CRASH_AT !== point) return;
  const once = process.env.RELEARN_TEST_CRASH_ONCE;
  if (once !== undefined) {
    if (existsSync(once)) return;
    writeFileSync(once, point);
  }
  process.kill(process.pid, "SIGKILL");
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
}

function randomHex(): string {
  return randomBytes(4).toString("hex");
}

/** The `code` of a Node system error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
