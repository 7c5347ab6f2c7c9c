/**
 * Where states live: one interface, one implementation per host.
 *
 * - `fileSystemStore()` (Node, state/fs_store.ts): a state is a folder, written
 *   into a temporary sibling and swapped in with renames; a lock file keeps
 *   one writer per folder.
 * - `indexedDbStore()` (browser, state/idb_store.ts): a state is a set of
 *   records committed in ONE IndexedDB readwrite transaction, so a closed tab
 *   never leaves half a state; Web Locks keep one writer per state.
 *
 * Both store the same thing: the files of a state plus its manifest.json
 * (format.ts), with the same checksums, so a state exported from one store
 * imports into the other unchanged (state/state_export.ts). Updaters ask their store
 * for a state by name and never build a path (like tfjs's tf.io handlers).
 *
 * File paths inside a state are relative and "/"-separated ("model/model.json",
 * "memory/x.bin"); format.ts's checkRelativePath says which are valid.
 */
import type { StateManifest } from "./format.js";

/** Read access to the files of one state whose manifest and checksums were verified. */
export interface StateReader {
  /** Where the state is, for messages: a folder path, or "indexeddb://<database>/<name>". */
  readonly location: string;
  /** The bytes of the listed file `path`; a StateError naming it when it is not listed or cannot be read. */
  readFile(path: string): Promise<Uint8Array>;
  /** True when the manifest lists `path`. */
  has(path: string): boolean;
}

/** Write access to the files of a state being built (nothing is visible to readers before the store commits). */
export interface StateWriter {
  /** Where the state will be, for messages. */
  readonly location: string;
  /** Adds the file `path` (a string is written as UTF-8); a StateError for an invalid path or one written twice. */
  writeFile(path: string, content: Uint8Array | string): Promise<void>;
}

/** A verified state: its manifest, its data and its files. */
export interface StoredState<Data = unknown> {
  /** The store's canonical name of the state: an absolute folder path, or the IndexedDB state name. */
  dir: string;
  manifest: StateManifest;
  /** `manifest.data`, parsed by a schema when the reader gave one. */
  data: Data;
  /** The state's files, as verified when the state was read (held in memory: a later commit cannot change them). */
  files: StateReader;
  /** Set when the state was missing and recovered from this leftover of an interrupted write (file system only). */
  recoveredFrom?: string;
}

/** The writer lock of one state (see StateStore.lock). */
export interface StateLock {
  /** Throws a StateError when the lock was lost (taken over by another writer) since it was taken. */
  verify(): Promise<void>;
  /** Releases the lock; safe to call twice. */
  release(): Promise<void>;
}

/** Options of StateStore.write. */
export interface WriteStateOptions {
  /** What writes the state, e.g. "repeated-distillation"; checked again on read. */
  kind: string;
  /**
   * Adds every file of the state (not manifest.json) and returns the manifest's
   * `data` (JSON). Whatever it throws is rethrown and nothing is committed.
   */
  write: (files: StateWriter) => Promise<unknown>;
  /**
   * Called once the new state is complete, just before it is committed; what it
   * throws aborts the write (the stored state untouched). Updaters check their lock there.
   */
  beforeCommit?: () => Promise<void>;
  /**
   * The `manifestSha256` of the state this write replaces, as the writer last
   * read or wrote it; a stored state that differs at commit time (another
   * process or tab updated it meanwhile) is a StateError and nothing is
   * committed, so no update is ever lost. `null`: the name must hold no state.
   * Omitted: whatever is there is replaced.
   */
  expectedPrevious?: string | null;
}

/** What a state store does; every updater and command reads and writes states only through one. */
export interface StateStore {
  /** "filesystem" or "indexeddb", for messages. */
  readonly kind: string;
  /**
   * The canonical name of the state called `name` (file system: the real
   * absolute path, symlinks followed); a StateError when it cannot name a state.
   */
  resolve(name: string): Promise<string>;
  /**
   * Reads and verifies the state `name` (manifest, checksums, no unlisted
   * files). Null when there is none; a StateError when it is damaged, of
   * another format, or not of `kind`.
   */
  read(name: string, options?: { kind?: string }): Promise<StoredState | null>;
  /** Commits a whole new state under `name`, replacing the one there, atomically. Returns its manifest. */
  write(name: string, options: WriteStateOptions): Promise<StateManifest>;
  /**
   * Takes the writer lock of `name`: a second writer fails at once with a
   * StateError saying who holds it.
   */
  lock(name: string): Promise<StateLock>;
  /** True when `name` holds a state (complete or not; nothing is verified). */
  holdsState(name: string): Promise<boolean>;
  /**
   * Throws a StateError when a state cannot be written under `output`
   * (file system: a non-empty folder that is no state, a folder inside
   * another state, or inside `input`), before any training starts.
   */
  checkWritable(output: string, input?: string): Promise<void>;
}
