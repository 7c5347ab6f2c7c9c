/**
 * Verifying a state held in memory: the records read from IndexedDB
 * (idb_store.ts) or the entries of an exported archive (state_export.ts).
 * The same checks, in the same order, as the file-system reader
 * (read_state.ts): the manifest (format.ts: schema, safe paths, its own
 * checksum, canonical text), the kind, no unlisted file, then every listed
 * file's size and SHA-256. A state that fails any check is a StateError
 * naming the file, never a silent fresh start or half a state.
 */
import { StateError } from "../errors.js";
import { MANIFEST_FILE, parseManifest, type StateManifest } from "./format.js";
import { sha256Hex } from "./sha256.js";

/** A state's files as read from its store, before any check. */
export interface UnverifiedState {
  /** manifest.json's text. */
  manifestText: string;
  /** Every other file (path relative to the state -> bytes), listed or not. */
  files: ReadonlyMap<string, Uint8Array>;
  /** How messages name the file `path` of the state (e.g. "indexeddb://relearn/rd/model.json"). */
  name: (path: string) => string;
  /** What a message advises for damage (e.g. "restore it from an exported copy"). */
  remedy: string;
}

/**
 * Checks `state` and returns its manifest; a StateError naming the file at
 * fault when the manifest is invalid, the state is not of `kind` (when
 * given), a file is not listed, or a listed one is missing or differs.
 */
export async function verifyStateFiles(state: UnverifiedState, kind?: string): Promise<StateManifest> {
  const manifestName = state.name(MANIFEST_FILE);
  // `await` as format.ts's checks use crypto.subtle (asynchronous) on every host.
  const manifest = await parseManifest(state.manifestText, manifestName);
  if (kind !== undefined && manifest.kind !== kind) {
    throw new StateError(`${manifestName} is a state of kind "${manifest.kind}", but a "${kind}" state was expected`);
  }
  const unlisted = [...state.files.keys()].filter((path) => !Object.hasOwn(manifest.files, path)).sort();
  if (unlisted[0] !== undefined) {
    throw new StateError(
      `${state.name(unlisted[0])} is not listed in ${manifestName}: a state holds only the files relearn wrote into it, ` +
        `so it was changed after it was written; ${state.remedy}`,
    );
  }
  for (const path of Object.keys(manifest.files).sort()) {
    const entry = manifest.files[path]!;
    const bytes = state.files.get(path);
    if (bytes === undefined) {
      throw new StateError(`${state.name(path)} is missing (listed in ${MANIFEST_FILE}); ${state.remedy}`);
    }
    if (bytes.length !== entry.bytes) {
      throw new StateError(
        `${state.name(path)} has ${bytes.length} bytes but ${MANIFEST_FILE} lists ${entry.bytes}: checksum mismatch: ` +
          `the file was modified or truncated; ${state.remedy}`,
      );
    }
    const actual = await sha256Hex(bytes);
    if (actual !== entry.sha256) {
      throw new StateError(
        `${state.name(path)}: checksum mismatch: the file was modified (sha256 ${actual}, ${MANIFEST_FILE} lists ` +
          `${entry.sha256}); ${state.remedy}`,
      );
    }
  }
  return manifest;
}
