/**
 * Reading and verifying a state folder (SPEC section 4): a folder that is
 * absent means "no state here" (null; the caller decides whether that is an
 * error); a folder that exists but is empty, damaged, of another format, or
 * holds files its manifest does not list, is a StateError naming the file,
 * never a silent fresh start.
 *
 * Decisions:
 * - An EMPTY folder is an error: it holds no state, and reading it as a fresh
 *   start would silently drop the state the caller meant to resume from. (An
 *   empty folder is fine as an OUTPUT: `writeStateFolder` fills it.)
 * - Every file of the folder must be listed in the manifest: an unlisted file
 *   means the folder was changed after it was written (or is not what it
 *   seems), and state folders are written whole by relearn only.
 * - Every listed file is checked (size, then SHA-256) before anything is
 *   returned, so a caller never resumes from half a state; the manifest
 *   itself is checked against its own checksum (format.ts).
 * - A missing folder with a `.old-` crash leftover beside it (a write that
 *   stopped between its two renames) is recovered (atomic_folder.ts); while
 *   its writer is alive (mid-commit), the read waits for the commit instead.
 * - The folder is read whole, every file into memory as it is verified, and
 *   served from there: a writer committing a new folder at the same path
 *   afterwards cannot change what the caller reads. A read that a commit
 *   swapped the folder under is started again (read_retry.ts), so a reader
 *   sees the old state or the new one, never an error about a state that is
 *   fine.
 */
import { createHash } from "node:crypto";
import { lstat, readFile, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type * as z from "zod";
import { StateError } from "../errors.js";
import { errorCode, recoverInterruptedSwap } from "./atomic_folder.js";
import { MANIFEST_FILE, describeZodIssue, parseManifest, type StateManifest } from "./format.js";
import { memoryReader } from "./memory_reader.js";
import { readWhileCommitting, type ReadAttempt } from "./read_retry.js";
import type { StoredState } from "./store.js";

/** A verified state folder (`dir` its absolute path; `recoveredFrom` a `.old-` leftover of an interrupted write). */
export type StateFolder<Data = unknown> = StoredState<Data>;

/** Options of {@link readStateFolder}. */
export interface ReadStateFolderOptions {
  /** The kind the caller can resume from (e.g. "repeated-distillation"); another kind is a StateError. */
  kind?: string;
}

/**
 * Reads and verifies the state folder at `dir`. Returns null when `dir` does
 * not exist (and no interrupted write of it can be recovered). Throws a StateError naming the file at
 * fault when the folder is not a complete, unmodified state of the supported
 * format and expected kind. With `dataSchema`, `data` is parsed by it too.
 */
export async function readStateFolder(dir: string, options?: ReadStateFolderOptions): Promise<StateFolder | null>;
export async function readStateFolder<Schema extends z.ZodType>(
  dir: string,
  options: ReadStateFolderOptions & { dataSchema: Schema },
): Promise<StateFolder<z.output<Schema>> | null>;
export async function readStateFolder(
  dir: string,
  options: ReadStateFolderOptions & { dataSchema?: z.ZodType } = {},
): Promise<StateFolder | null> {
  const target = resolve(dir);
  return readWhileCommitting(target, (attempt) => readOnce(target, options, attempt));
}

async function readOnce(
  target: string,
  options: ReadStateFolderOptions & { dataSchema?: z.ZodType },
  attempt: ReadAttempt,
): Promise<StateFolder | null> {
  let recoveredFrom: string | undefined;
  if (!(await folderExists(target))) {
    recoveredFrom = await recoverInterruptedSwap(target);
    // Nothing recovered: no state, unless a live writer was between its renames and has just put the new one there.
    if (recoveredFrom === undefined && !(await folderExists(target))) return null;
  }
  const names = await readdir(target);
  if (names.length === 0) {
    throw new StateError(`${target} is an empty folder, not a state folder (a state folder has a ${MANIFEST_FILE})`);
  }

  const manifestPath = join(target, MANIFEST_FILE);
  const manifest = await readManifest(manifestPath, target, attempt);
  if (options.kind !== undefined && manifest.kind !== options.kind) {
    throw new StateError(
      `${manifestPath} is a state of kind "${manifest.kind}", but a "${options.kind}" state was expected`,
    );
  }
  await refuseUnlistedEntries(target, manifest);
  const files = new Map<string, Uint8Array>();
  for (const relative of Object.keys(manifest.files).sort()) {
    files.set(relative, await verifiedFile(target, relative, manifest.files[relative]!.bytes, manifest.files[relative]!.sha256));
  }

  let data: unknown = manifest.data;
  if (options.dataSchema !== undefined) {
    const parsed = options.dataSchema.safeParse(data);
    if (!parsed.success) {
      throw new StateError(`${manifestPath}: ${describeZodIssue(parsed.error, ["data"])}`);
    }
    data = parsed.data;
  }
  return { dir: target, manifest, data, files: memoryReader(target, files), ...(recoveredFrom === undefined ? {} : { recoveredFrom }) };
}

/** Throws a StateError naming the first file or folder under `target` the manifest does not account for. */
async function refuseUnlistedEntries(target: string, manifest: StateManifest): Promise<void> {
  const listed = new Set(Object.keys(manifest.files));
  const folders = new Set<string>();
  for (const relative of listed) {
    const parts = relative.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join("/"));
  }
  async function walk(folder: string, prefix: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = prefix + entry.name;
      if (relative === MANIFEST_FILE) continue;
      if (entry.isDirectory() && folders.has(relative)) await walk(join(folder, entry.name), `${relative}/`);
      else if (!listed.has(relative)) {
        throw new StateError(
          `${join(target, ...relative.split("/"))} is not listed in ${join(target, MANIFEST_FILE)}: a state folder holds ` +
            `only the files relearn wrote into it, so something was added after it was written (e.g. an output ` +
            `folder placed inside it). Move that ${entry.isDirectory() ? "folder" : "file"} out of ${target} (the ` +
            `listed files are checked separately); restore the state folder from a backup only if listed files fail their check`,
        );
      }
    }
  }
  await walk(target, "");
}

async function folderExists(target: string): Promise<boolean> {
  let stats;
  try {
    stats = await stat(target);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    if (errorCode(error) === "ENOTDIR") {
      throw new StateError(`${target} cannot be a state folder: one of its parent paths is a file`, { cause: error });
    }
    throw new StateError(`cannot read the state folder ${target}: ${String(error)}`, { cause: error });
  }
  if (!stats.isDirectory()) throw new StateError(`${target} exists but is not a folder, so it cannot be a state folder`);
  return true;
}

async function readManifest(manifestPath: string, target: string, attempt: ReadAttempt): Promise<StateManifest> {
  let text: string;
  try {
    text = await readFile(manifestPath, "utf8");
    attempt.manifestText = text;
  } catch (error) {
    if (errorCode(error) === "ENOENT") {
      throw new StateError(
        `${manifestPath} is missing: ${target} is not a relearn state folder, or writing it did not finish`,
      );
    }
    throw new StateError(`cannot read ${manifestPath}: ${String(error)}`, { cause: error });
  }
  return parseManifest(text, manifestPath);
}

/** The bytes of the listed file `relative` once checked against the manifest's size and SHA-256. */
async function verifiedFile(target: string, relative: string, bytes: number, sha256: string): Promise<Uint8Array> {
  const path = join(target, ...relative.split("/"));
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") {
      throw new StateError(`${path} is missing (listed in ${MANIFEST_FILE})`, { cause: error });
    }
    throw error;
  }
  if (!stats.isFile()) throw new StateError(`${path} is not a regular file (listed in ${MANIFEST_FILE} as one)`);
  // The size first: a file grown by an edit is not read whole only to be refused.
  if (stats.size !== bytes) throw sizeMismatch(path, stats.size, bytes);
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") {
      throw new StateError(`${path} is missing (listed in ${MANIFEST_FILE})`, { cause: error });
    }
    throw error;
  }
  if (content.byteLength !== bytes) throw sizeMismatch(path, content.byteLength, bytes);
  const actual = createHash("sha256").update(content).digest("hex");
  if (actual !== sha256) {
    throw new StateError(
      `${path}: checksum mismatch: the file was modified or truncated (sha256 ${actual}, ${MANIFEST_FILE} lists ${sha256})`,
    );
  }
  return new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
}

function sizeMismatch(path: string, found: number, listed: number): StateError {
  return new StateError(`${path} has ${found} bytes but ${MANIFEST_FILE} lists ${listed}: checksum mismatch: the file was modified or truncated`);
}
