/**
 * A state as ONE file: a zip archive holding manifest.json and every file
 * of the state at its relative path, so a state updated in a browser can be
 * downloaded, inspected or continued by the CLI, and a folder written in
 * Node can be carried into a page (and back). Any store works (store.ts).
 *
 * Decisions:
 * - Zip (fflate, pure JS: Node, pages and Workers): `unzip state.zip -d dir`
 *   gives a state folder the file-system reader accepts as is.
 * - Deterministic bytes: entries in a fixed order (manifest.json, then the
 *   files by path), a fixed timestamp, one compression level, so the same
 *   state always exports to the same archive (cacheable, comparable).
 * - An archive is untrusted input. Import verifies it exactly like a stored
 *   state (verify_files.ts) and refuses before inflating anything an entry
 *   that is not listed, declares another size than the manifest lists (a
 *   zip bomb cannot make it allocate more than the manifest says), or could
 *   not have been compressed to its stored size; names are checked by the
 *   manifest's own path rules (no "..", no absolute path).
 * - Import commits through `store.write`, under the store's lock, and by
 *   default only where no state is (`overwrite` replaces one, atomically).
 */
import { unzipSync, zipSync, type UnzipFileInfo, type Zippable } from "fflate";
import { StateError } from "../errors.js";
import { MANIFEST_FILE, manifestToJson, parseManifest, type StateManifest } from "./format.js";
import { sha256Hex } from "./sha256.js";
import type { StateStore } from "./store.js";
import { verifyStateFiles } from "./verify_files.js";

/** manifest.json larger than this in an archive is refused unread (a real one is a few KB to a few MB). */
export const MAX_ARCHIVE_MANIFEST_BYTES = 64 * 1024 * 1024;

/**
 * DEFLATE cannot expand data by more than about 1032:1, so an entry that
 * claims more is refused without inflating it (a crafted size, a bomb).
 */
const MAX_DEFLATE_RATIO = 1032;

/** Deflate level of exported entries: fflate's default, a fair speed/size trade for float weights. */
const COMPRESSION_LEVEL = 6;

/**
 * The timestamp of every entry. Zip stores local date and time fields, and
 * fflate fills them from the Date's LOCAL fields, so a Date built from local
 * fields gives the same bytes in every time zone. 1980-01-01 is the zip epoch.
 */
const fixedEntryTime = (): Date => new Date(1980, 0, 1, 0, 0, 0);

/**
 * The verified state `name` of `store` as one zip archive (bytes). The same
 * state always gives identical bytes. A StateError when there is no state
 * there or it fails verification (a file that changes while it is read
 * fails its checksum).
 */
export async function exportState(store: StateStore, name: string): Promise<Uint8Array> {
  const state = await store.read(name);
  if (state === null) throw new StateError(`there is no state to export at ${await store.resolve(name)}`);
  const entries: [string, Uint8Array][] = [[MANIFEST_FILE, new TextEncoder().encode(manifestToJson(state.manifest))]];
  for (const path of Object.keys(state.manifest.files).sort()) {
    const bytes = await state.files.readFile(path);
    // Checked again as it is read: a store that reads lazily may have been replaced since `read` verified it.
    if ((await sha256Hex(bytes)) !== state.manifest.files[path]!.sha256) {
      throw new StateError(`${state.files.location}/${path} changed while the state was exported (checksum mismatch); export it again`);
    }
    entries.push([path, bytes]);
  }
  return zipEntries(entries);
}

/**
 * Deterministic zip of `entries`. zipSync (one DEFLATE call per entry), not
 * fflate's streaming Zip/ZipDeflate: the streaming compressor emits invalid
 * back-references for some inputs (fflate issues #260, #282; e.g. a memory's
 * labels 0,1,2,3,4,0,1,...), giving archives no tool can read. The archive is
 * read back before it is returned, so a compressor fault is an error here,
 * never a backup found unreadable later.
 *
 * zipSync takes entries as object keys, which JavaScript orders integer-like
 * names ("0", "12") first: the order is still the same for the same state.
 */
function zipEntries(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const files: Zippable = Object.create(null) as Zippable;
  for (const [path, bytes] of entries) files[path] = [bytes, { level: COMPRESSION_LEVEL, mtime: fixedEntryTime() }];
  let archive: Uint8Array;
  try {
    archive = zipSync(files);
  } catch (error) {
    throw new StateError(`cannot build the state archive: ${String(error)}`, { cause: error });
  }
  checkArchive(archive, entries);
  return archive;
}

/** Throws a StateError unless `archive` unzips to exactly `entries`. */
function checkArchive(archive: Uint8Array, entries: readonly (readonly [string, Uint8Array])[]): void {
  let back: Record<string, Uint8Array>;
  try {
    back = unzipSync(archive);
  } catch (error) {
    throw new StateError(`the state archive just built does not unzip (${String(error)}): nothing was exported`, { cause: error });
  }
  for (const [path, bytes] of entries) {
    const read = back[path];
    if (read === undefined || read.length !== bytes.length || read.some((byte, i) => byte !== bytes[i])) {
      throw new StateError(`the state archive just built does not give back ${path} intact: nothing was exported`);
    }
  }
}

/** Options of {@link importState}. */
export interface ImportStateOptions {
  /** Replace a state already stored under the name (atomically); default false: that is a StateError. */
  overwrite?: boolean;
  /** The kind of state expected (e.g. "repeated-distillation"); an archive of another kind is refused. */
  kind?: string;
  /** How messages name the archive (default "the archive"), e.g. its file name. */
  source?: string;
}

/**
 * Verifies the zip archive `bytes` (as {@link exportState} writes) and
 * stores its state under `name` in `store`, under the store's lock; returns
 * the manifest written. The stored manifest is byte-identical to the
 * archive's when both come from the same relearn version (a state exported
 * by another version is re-sealed with this version's number, as any
 * update would). Every error is a StateError naming the archive entry at
 * fault, and nothing is stored then.
 */
export async function importState(
  store: StateStore,
  name: string,
  archive: Uint8Array | ArrayBuffer,
  options: ImportStateOptions = {},
): Promise<StateManifest> {
  const source = options.source ?? "the archive";
  // What `file.arrayBuffer()` and `fetch(...).arrayBuffer()` give, taken as it is.
  if (!(archive instanceof Uint8Array) && !(archive instanceof ArrayBuffer)) {
    throw new StateError(`${source} must be the archive's bytes (a Uint8Array or an ArrayBuffer), got ${Object.prototype.toString.call(archive)}`);
  }
  const bytes = archive instanceof Uint8Array ? archive : new Uint8Array(archive);
  const entryName = (path: string): string => `${source}: entry "${path}"`;
  const remedy = `export the state again`;
  const listing = listEntries(bytes, source);

  const manifestInfo = listing.get(MANIFEST_FILE);
  if (manifestInfo === undefined) {
    const nested = [...listing.keys()].find((path) => path.endsWith(`/${MANIFEST_FILE}`));
    throw new StateError(
      `${source} has no ${MANIFEST_FILE} at its root, so it is not a relearn state export` +
        (nested === undefined ? "" : ` (it has ${nested}: zip the state folder's contents, not the folder itself)`),
    );
  }
  checkDeclaredSize(manifestInfo, Math.min(manifestInfo.originalSize, MAX_ARCHIVE_MANIFEST_BYTES), entryName);
  const manifestText = decodeUtf8(extract(bytes, source, new Set([MANIFEST_FILE])).get(MANIFEST_FILE)!, entryName(MANIFEST_FILE));
  const manifest = await parseManifest(manifestText, entryName(MANIFEST_FILE));

  // Every entry is judged before any is inflated.
  const folders = foldersOf(Object.keys(manifest.files));
  const wanted = new Set<string>();
  for (const [path, info] of listing) {
    if (path === MANIFEST_FILE) continue;
    if (path.endsWith("/") && folders.has(path.slice(0, -1)) && info.originalSize === 0) continue; // a folder entry
    const entry = Object.hasOwn(manifest.files, path) ? manifest.files[path] : undefined;
    if (entry === undefined) {
      throw new StateError(
        `${entryName(path)} is not listed in ${MANIFEST_FILE}: a state holds only the files relearn wrote into it, so the ` +
          `archive was changed after it was exported; ${remedy}`,
      );
    }
    checkDeclaredSize(info, entry.bytes, entryName);
    wanted.add(path);
  }
  const files = extract(bytes, source, wanted);
  const verified = await verifyStateFiles({ manifestText, files, name: entryName, remedy }, options.kind);

  const lock = await store.lock(name);
  try {
    if (options.overwrite !== true && (await store.holdsState(name))) {
      throw new StateError(
        `${await store.resolve(name)} already holds a state: importing would replace it; delete it first or import with ` +
          `overwrite (CLI: --overwrite-output-state)`,
      );
    }
    return await store.write(name, {
      kind: verified.kind,
      write: async (writer) => {
        for (const path of Object.keys(verified.files).sort()) await writer.writeFile(path, files.get(path)!);
        return verified.data;
      },
      beforeCommit: () => lock.verify(),
      // Checked again at commit: a state that appeared meanwhile is not replaced.
      ...(options.overwrite === true ? {} : { expectedPrevious: null }),
    });
  } finally {
    await lock.release();
  }
}

/** Every entry of the archive's central directory by name; a StateError for a malformed archive or a repeated name. */
function listEntries(bytes: Uint8Array, source: string): Map<string, UnzipFileInfo> {
  const listing = new Map<string, UnzipFileInfo>();
  let duplicate: string | undefined;
  try {
    unzipSync(bytes, {
      filter: (info) => {
        if (listing.has(info.name)) duplicate ??= info.name;
        listing.set(info.name, info);
        return false;
      },
    });
  } catch (error) {
    throw new StateError(`${source} is not a readable zip archive: ${(error as Error).message}`, { cause: error });
  }
  if (duplicate !== undefined) {
    // Tools disagree on which copy of a repeated name wins, so no copy can be trusted.
    throw new StateError(`${source} has the entry "${duplicate}" more than once; ${"export the state again"}`);
  }
  return listing;
}

/**
 * Refuses an entry whose declared (uncompressed) size differs from `expected`,
 * uses an unknown compression, or cannot have been compressed to its stored size.
 */
function checkDeclaredSize(info: UnzipFileInfo, expected: number, entryName: (path: string) => string): void {
  const where = entryName(info.name);
  if (info.originalSize !== expected) {
    throw new StateError(
      info.name === MANIFEST_FILE
        ? `${where} declares ${info.originalSize} bytes, more than the ${MAX_ARCHIVE_MANIFEST_BYTES} a manifest may have; refusing to inflate it`
        : `${where} declares ${info.originalSize} bytes but ${MANIFEST_FILE} lists ${expected}: the archive was changed ` +
            `after it was exported; refusing to inflate it`,
    );
  }
  if (info.compression !== 0 && info.compression !== 8) {
    throw new StateError(`${where} uses zip compression method ${info.compression}; only stored (0) and deflate (8) are read`);
  }
  const limit = info.compression === 0 ? info.size : info.size * MAX_DEFLATE_RATIO + 1024;
  if (info.originalSize > limit) {
    throw new StateError(
      `${where} declares ${info.originalSize} bytes, more than ${info.size} compressed bytes can hold: a damaged or ` +
        `crafted archive; refusing to inflate it`,
    );
  }
}

/** The entries named in `wanted`, inflated (each into a buffer of its declared size, checked beforehand). */
function extract(bytes: Uint8Array, source: string, wanted: ReadonlySet<string>): Map<string, Uint8Array> {
  let inflated: Record<string, Uint8Array>;
  try {
    inflated = unzipSync(bytes, { filter: (info) => wanted.has(info.name) });
  } catch (error) {
    throw new StateError(`${source} is damaged: an entry cannot be inflated (${(error as Error).message})`, { cause: error });
  }
  const out = new Map<string, Uint8Array>();
  for (const path of wanted) {
    // (No manifest lists "__proto__", which fflate's plain object could not hold as a key: see idb_store.ts's writer.)
    const found = Object.hasOwn(inflated, path) ? inflated[path] : undefined;
    if (found !== undefined) out.set(path, found);
  }
  return out;
}

function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new StateError(`${where} is not UTF-8 text, so it is not a state manifest`, { cause: error });
  }
}

/** Every folder a file of `paths` is in, without a trailing "/". */
function foldersOf(paths: readonly string[]): Set<string> {
  const folders = new Set<string>();
  for (const path of paths) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join("/"));
  }
  return folders;
}
