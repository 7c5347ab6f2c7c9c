/**
 * The browser's state store: states kept in IndexedDB (pages and Web
 * Workers), behind the StateStore interface every updater uses (store.ts).
 *
 * Layout (database version 1): the object store "states" holds one record
 * per state, `{ name, manifest }` (manifest.json's text, byte for byte what
 * the file-system store writes for the same files and data); the object
 * store "files" holds one record per file, `{ name, path, bytes }`, keyed by
 * [name, path] and indexed by name.
 *
 * Decisions:
 * - A whole state is committed in ONE readwrite transaction that also
 *   deletes the previous state's records: IndexedDB commits a transaction
 *   whole or not at all, so a tab closed (or a worker killed) mid-write
 *   leaves the previous state, never half of each. Everything asynchronous
 *   (the write callback, checksums, `beforeCommit`) runs before the
 *   transaction opens: a transaction with no pending request commits as
 *   soon as control returns to the event loop.
 * - `expectedPrevious` is compared inside that same transaction, so two tabs
 *   that both read a state and both write an update cannot both commit.
 * - A read takes one readonly transaction (a consistent snapshot), then
 *   verifies everything before returning (verify_files.ts): a damaged state
 *   is a StateError naming `indexeddb://<database>/<name>/<file>`, never a
 *   fresh start. The verified files stay in memory for `files.readFile`.
 * - One writer per state: a Web Lock (browser_lock.ts).
 * - Browser storage is evictable: see `navigator.storage.persist()` in the docs.
 */
import { StateError } from "../errors.js";
import { takeBrowserLock } from "./browser_lock.js";
import {
  LIBRARY_NAME,
  LIBRARY_VERSION,
  MANIFEST_FILE,
  STATE_FORMAT_VERSION,
  canonicalJson,
  checkRelativePath,
  manifestToJson,
  sealManifest,
  type FileEntry,
  type StateManifest,
} from "./format.js";
import { assertChecksumsAvailable, sha256Hex } from "./sha256.js";
import type { StateLock, StateStore, StateWriter, StoredState, WriteStateOptions } from "./store.js";
import { verifyStateFiles } from "./verify_files.js";
import { memoryReader } from "./memory_reader.js";

/** The database `indexedDbStore()` uses when given none. */
export const DEFAULT_DATABASE_NAME = "relearn";

/** The IndexedDB schema version; a database of a later version (a newer relearn) is refused, not downgraded. */
const DATABASE_VERSION = 1;
const STATES = "states";
const FILES = "files";
const BY_STATE = "byState";

/** Options of {@link indexedDbStore}. */
export interface IndexedDbStoreOptions {
  /** The IndexedDB database holding the states (default "relearn"); created on first use. */
  databaseName?: string;
  /** The IndexedDB to use (default: the host's `indexedDB`; in Node, e.g. fake-indexeddb's). */
  indexedDB?: IDBFactory;
  /** The Web Locks manager (default: `navigator.locks`; without one, an in-process lock table). */
  locks?: LockManager;
}

/** One entry of {@link IndexedDbStateStore.listStates}: what the stored manifest says, NOT verified. */
export interface StoredStateSummary {
  name: string;
  /** The manifest's kind; undefined when the state has no readable manifest (damaged). */
  kind: string | undefined;
  /** Number of file records, manifest.json not included. */
  files: number;
  /** Bytes of those files plus the manifest's text (UTF-16 length), as stored. */
  bytes: number;
}

/** The IndexedDB store: a StateStore plus what a page needs to manage its states. */
export interface IndexedDbStateStore extends StateStore {
  readonly databaseName: string;
  /** Every state name in the database, sorted, with its kind and size (nothing is verified). */
  listStates(): Promise<StoredStateSummary[]>;
  /**
   * Deletes the state `name` (all its records, in one transaction). False
   * when there was none; a StateError when another tab or worker holds its lock.
   */
  deleteState(name: string): Promise<boolean>;
}

/** What a state record holds: manifest.json's text. */
interface StateRecord {
  name: string;
  manifest: string;
}

/** What a file record holds. */
interface FileRecord {
  name: string;
  path: string;
  bytes: Uint8Array;
}

/**
 * In-process lock tables (used where there is no `navigator.locks`), one per
 * IndexedDB factory: the factory is the storage the lock protects.
 */
const lockTables = new WeakMap<object, Set<string>>();
const NO_FACTORY = {};

/**
 * Why `name` cannot name a state in IndexedDB, or undefined when it can.
 * Refused: a non-string, the empty string, a name with leading or trailing
 * whitespace (a typo that would be invisible in messages), a control
 * character, or a lone UTF-16 surrogate (not representable in UTF-8).
 */
export function checkStateName(name: unknown): string | undefined {
  if (typeof name !== "string") return `is a ${name === null ? "null" : typeof name}, not a string`;
  if (name === "") return "is empty";
  if (name.trim() !== name) return "starts or ends with whitespace";
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return "contains a control character";
  }
  if (/\p{Cs}/u.test(name)) return "contains a lone UTF-16 surrogate";
  return undefined;
}

/**
 * A StateStore keeping states in the IndexedDB database `databaseName`.
 * Nothing is opened until first use, so creating one never fails; a host
 * without IndexedDB fails then with a StateError saying so.
 */
export function indexedDbStore(options: IndexedDbStoreOptions = {}): IndexedDbStateStore {
  const databaseName = options.databaseName ?? DEFAULT_DATABASE_NAME;
  if (typeof databaseName !== "string" || databaseName === "") {
    throw new StateError(`indexedDbStore: databaseName must be a non-empty string, got ${JSON.stringify(databaseName)}`);
  }
  const host = globalThis as { indexedDB?: IDBFactory; navigator?: { locks?: LockManager } };
  const locks = options.locks ?? host.navigator?.locks;
  const tableKey = options.indexedDB ?? host.indexedDB ?? NO_FACTORY;
  let table = lockTables.get(tableKey);
  if (table === undefined) lockTables.set(tableKey, (table = new Set()));
  const lockTable = table;

  const root = `indexeddb://${databaseName}`;
  const location = (name: string): string => {
    const problem = checkStateName(name);
    if (problem !== undefined) {
      throw new StateError(`${JSON.stringify(name)} cannot name a state in IndexedDB: the name ${problem}`);
    }
    return `${root}/${name}`;
  };

  async function withDatabase<T>(use: (db: IDBDatabase) => Promise<T>): Promise<T> {
    const factory = options.indexedDB ?? host.indexedDB;
    if (factory === undefined) {
      throw new StateError(
        `IndexedDB is not available here, so no state can be kept in ${root}: in Node, pass indexedDbStore({ indexedDB }) ` +
          `(e.g. from fake-indexeddb) or use the file-system store`,
      );
    }
    const db = await openDatabase(factory, databaseName);
    try {
      return await use(db);
    } finally {
      db.close();
    }
  }

  const takeLock = async (name: string): Promise<StateLock> =>
    takeBrowserLock(locks, lockTable, `relearn-state ${JSON.stringify([databaseName, name])}`, location(name));

  return {
    kind: "indexeddb",
    databaseName,

    async resolve(name: string): Promise<string> {
      location(name);
      return name;
    },

    async read(name: string, readOptions: { kind?: string } = {}): Promise<StoredState | null> {
      const where = location(name);
      const { record, fileRecords } = await withDatabase(async (db) => {
        const tx = db.transaction([STATES, FILES], "readonly");
        const stateRequest = tx.objectStore(STATES).get(name);
        const filesRequest = tx.objectStore(FILES).index(BY_STATE).getAll(name);
        await transactionDone(tx, where);
        return { record: stateRequest.result as unknown, fileRecords: filesRequest.result as unknown[] };
      });
      if (record === undefined && fileRecords.length === 0) return null;
      const fileName = (path: string): string => `${where}/${path}`;
      const remedy = `delete it (deleteState) or import an exported copy of it`;
      if (record === undefined) {
        throw new StateError(
          `${fileName(MANIFEST_FILE)} is missing but ${fileRecords.length} file record(s) of ${where} exist: it is not a ` +
            `complete state (the database was changed outside relearn); ${remedy}`,
        );
      }
      const manifestText = (record as Partial<StateRecord> | null)?.manifest;
      if (typeof manifestText !== "string") {
        throw new StateError(`${fileName(MANIFEST_FILE)} is not a manifest record (no manifest text); ${remedy}`);
      }
      const files = new Map<string, Uint8Array>();
      for (const item of fileRecords) {
        const { path, bytes } = (item ?? {}) as Partial<FileRecord>;
        if (typeof path !== "string" || !isUint8Array(bytes)) {
          throw new StateError(`${fileName(String(path))} is not a file record (its bytes are not a Uint8Array); ${remedy}`);
        }
        files.set(path, bytes);
      }
      const manifest = await verifyStateFiles({ manifestText, files, name: fileName, remedy }, readOptions.kind);
      return { dir: name, manifest, data: manifest.data, files: memoryReader(where, files) };
    },

    async write(name: string, writeOptions: WriteStateOptions): Promise<StateManifest> {
      const where = location(name);
      if (typeof writeOptions.kind !== "string" || writeOptions.kind === "") {
        throw new StateError(`cannot write ${where}: kind must be a non-empty string`);
      }
      const writer = new MemoryStateWriter(where);
      let written: unknown;
      try {
        written = await writeOptions.write(writer);
      } finally {
        writer.close();
      }
      // Only now: a writeFile still running when the callback returned (not awaited) would be missing from the manifest.
      writer.checkComplete();
      const data = written === undefined ? {} : written;
      canonicalJson(data, "data");
      const manifest = await sealManifest({
        formatVersion: STATE_FORMAT_VERSION,
        library: { name: LIBRARY_NAME, version: LIBRARY_VERSION },
        kind: writeOptions.kind,
        files: writer.entries(),
        data,
      });
      const text = manifestToJson(manifest);
      await writeOptions.beforeCommit?.();
      await withDatabase((db) => commitState(db, name, where, text, writer.files, writeOptions.expectedPrevious));
      return JSON.parse(text) as StateManifest;
    },

    lock: takeLock,

    async holdsState(name: string): Promise<boolean> {
      const where = location(name);
      return withDatabase(async (db) => {
        const tx = db.transaction([STATES, FILES], "readonly");
        const states = tx.objectStore(STATES).count(name);
        const files = tx.objectStore(FILES).index(BY_STATE).count(name);
        await transactionDone(tx, where);
        return states.result + files.result > 0;
      });
    },

    async checkWritable(output: string, input?: string): Promise<void> {
      const where = location(output);
      if (input !== undefined) location(input);
      assertChecksumsAvailable();
      // Opening the database is what fails in a browser that refuses storage (e.g. some private windows).
      await withDatabase(async () => undefined).catch((error: unknown) => {
        throw new StateError(`cannot write ${where}: ${(error as Error).message}`, { cause: error });
      });
    },

    async listStates(): Promise<StoredStateSummary[]> {
      const { records, keys } = await withDatabase(async (db) => {
        const tx = db.transaction([STATES, FILES], "readonly");
        const states = tx.objectStore(STATES).getAll();
        const files = tx.objectStore(FILES).getAllKeys();
        await transactionDone(tx, root);
        return { records: states.result as Partial<StateRecord>[], keys: files.result };
      });
      const summaries = new Map<string, StoredStateSummary>();
      const summary = (name: string): StoredStateSummary => {
        let found = summaries.get(name);
        if (found === undefined) summaries.set(name, (found = { name, kind: undefined, files: 0, bytes: 0 }));
        return found;
      };
      for (const record of records) {
        if (typeof record.name !== "string") continue;
        const entry = summary(record.name);
        if (typeof record.manifest !== "string") continue;
        entry.bytes += record.manifest.length;
        try {
          const manifest = JSON.parse(record.manifest) as Partial<StateManifest>;
          if (typeof manifest.kind === "string") entry.kind = manifest.kind;
          for (const file of Object.values(manifest.files ?? {})) entry.bytes += typeof file.bytes === "number" ? file.bytes : 0;
        } catch {
          // A damaged manifest: listed without a kind; reading the state says what is wrong.
        }
      }
      for (const key of keys) {
        const name = (key as unknown[])[0];
        if (typeof name === "string") summary(name).files += 1;
      }
      return [...summaries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async deleteState(name: string): Promise<boolean> {
      const where = location(name);
      const lock = await takeLock(name);
      try {
        return await withDatabase(async (db) => {
          const tx = db.transaction([STATES, FILES], "readwrite", { durability: "strict" });
          const states = tx.objectStore(STATES);
          const files = tx.objectStore(FILES);
          const state = states.count(name);
          const keys = files.index(BY_STATE).getAllKeys(name);
          keys.onsuccess = () => {
            for (const key of keys.result) files.delete(key);
            states.delete(name);
          };
          await transactionDone(tx, where);
          return state.result + keys.result.length > 0;
        });
      } finally {
        await lock.release();
      }
    },
  };
}

/** Opens (creating or upgrading as needed) the database; a StateError when it cannot be opened or is not relearn's. */
async function openDatabase(factory: IDBFactory, databaseName: string): Promise<IDBDatabase> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(databaseName, DATABASE_VERSION);
    } catch (error) {
      reject(openError(databaseName, error));
      return;
    }
    request.onupgradeneeded = (event) => {
      if (event.oldVersion < 1) {
        const opened = request.result;
        opened.createObjectStore(STATES, { keyPath: "name" });
        opened.createObjectStore(FILES, { keyPath: ["name", "path"] }).createIndex(BY_STATE, "name");
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(openError(databaseName, request.error));
  });
  // Another tab upgrading the database (a newer relearn) must not wait on this connection.
  db.onversionchange = () => db.close();
  for (const store of [STATES, FILES]) {
    if (!db.objectStoreNames.contains(store)) {
      db.close();
      throw new StateError(
        `the IndexedDB database "${databaseName}" is not relearn's (it has no "${store}" object store): ` +
          `give indexedDbStore() another databaseName`,
      );
    }
  }
  return db;
}

function openError(databaseName: string, error: unknown): StateError {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "VersionError") {
    return new StateError(
      `the IndexedDB database "${databaseName}" was written by a newer relearn (schema version above ` +
        `${DATABASE_VERSION}): update relearn, or give indexedDbStore() another databaseName`,
      { cause: error },
    );
  }
  return new StateError(
    `cannot open the IndexedDB database "${databaseName}": ${describeDomError(error)} (the browser may refuse storage ` +
      `in this window or for this site)`,
    { cause: error },
  );
}

function describeDomError(error: unknown): string {
  if (error === null || error === undefined) return "unknown error";
  const { name, message } = error as { name?: unknown; message?: unknown };
  return typeof name === "string" && typeof message === "string" ? `${name}: ${message}` : String(error);
}

/**
 * Settles when `tx` completes; rejects with `failure()` (when the code that
 * aborted it left a reason) or a StateError built from the transaction's error.
 */
function transactionDone(tx: IDBTransaction, where: string, failure: () => unknown = () => undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => {
      const reason = failure();
      if (reason !== undefined) {
        reject(reason);
        return;
      }
      const error = tx.error;
      const hint =
        error?.name === "QuotaExceededError"
          ? ": the browser's storage for this site is full; free space (delete old states) or ask for more " +
            "with navigator.storage.persist()"
          : "";
      reject(new StateError(`IndexedDB refused the transaction on ${where}: ${describeDomError(error)}${hint}`, { cause: error }));
    };
  });
}

/**
 * The one readwrite transaction that replaces the state `name` by `files`
 * and the manifest `text`, after comparing the stored manifest's checksum
 * with `expectedPrevious` (see WriteStateOptions).
 */
async function commitState(
  db: IDBDatabase,
  name: string,
  where: string,
  text: string,
  files: ReadonlyMap<string, Uint8Array>,
  expectedPrevious: string | null | undefined,
): Promise<void> {
  // "strict": the commit is reported only once it is on disk, so a reported update survives a power cut.
  const tx = db.transaction([STATES, FILES], "readwrite", { durability: "strict" });
  let failure: unknown;
  const fail = (error: unknown): void => {
    failure = error;
    try {
      tx.abort();
    } catch {
      // Already finished: the transaction's own outcome is reported.
    }
  };
  const states = tx.objectStore(STATES);
  const fileStore = tx.objectStore(FILES);
  const current = states.get(name);
  current.onsuccess = () => {
    try {
      const conflict = compareAndSwapConflict(current.result as unknown, expectedPrevious, where);
      if (conflict !== undefined) {
        fail(new StateError(conflict));
        return;
      }
      const previous = fileStore.index(BY_STATE).getAllKeys(name);
      previous.onsuccess = () => {
        try {
          for (const key of previous.result) {
            const path = (key as unknown[])[1];
            if (typeof path !== "string" || !files.has(path)) fileStore.delete(key);
          }
          for (const [path, bytes] of files) fileStore.put({ name, path, bytes } satisfies FileRecord);
          states.put({ name, manifest: text } satisfies StateRecord);
        } catch (error) {
          fail(error);
        }
      };
    } catch (error) {
      fail(error);
    }
  };
  await transactionDone(tx, where, () => failure);
}

/** Why the stored state record `stored` does not match `expectedPrevious`, or undefined when the write may go on. */
function compareAndSwapConflict(stored: unknown, expectedPrevious: string | null | undefined, where: string): string | undefined {
  if (expectedPrevious === undefined) return undefined;
  const nothingWritten = "nothing was written";
  if (stored === undefined) {
    return expectedPrevious === null
      ? undefined
      : `${where} no longer holds the state this write replaces (manifestSha256 ${expectedPrevious}): another tab or ` +
          `worker deleted it meanwhile; ${nothingWritten}`;
  }
  if (expectedPrevious === null) {
    return `${where} already holds a state (another tab or worker wrote it meanwhile), but this write expected none; ${nothingWritten}`;
  }
  let storedSha: unknown;
  try {
    storedSha = (JSON.parse((stored as StateRecord).manifest) as { manifestSha256?: unknown }).manifestSha256;
  } catch {
    storedSha = undefined;
  }
  if (storedSha === expectedPrevious) return undefined;
  return (
    `${where} was updated by another tab or worker since this writer read it (stored manifestSha256 ` +
    `${typeof storedSha === "string" ? storedSha : "unreadable"}, expected ${expectedPrevious}); ${nothingWritten}: ` +
    `read the state again and redo the update`
  );
}

/** Collects the files of a state being written; nothing is stored until the store commits them all. */
class MemoryStateWriter implements StateWriter {
  readonly files = new Map<string, Uint8Array>();
  private readonly sums = new Map<string, FileEntry>();
  /** Every folder some file is in ("a" and "a/b" for "a/b/c.bin"): a path cannot be both a file and a folder. */
  private readonly folders = new Set<string>();
  private closed = false;
  /** writeFile calls still hashing. */
  private pending = 0;

  constructor(readonly location: string) {}

  async writeFile(path: string, content: Uint8Array | string): Promise<void> {
    const where = `${this.location}/${path}`;
    if (this.closed) {
      throw new StateError(`${where}: the write of this state has finished; write every file before the write callback returns (a missing await?)`);
    }
    const problem = typeof path !== "string" ? "is not a string" : checkRelativePath(path);
    if (problem !== undefined) throw new StateError(`cannot write ${JSON.stringify(path)} into ${this.location}: the path ${problem}`);
    if (this.files.has(path)) throw new StateError(`${where} was written twice`);
    if (this.folders.has(path)) throw new StateError(`${where} cannot be a file: other files of the state are inside it, as in a folder`);
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join("/");
      if (this.files.has(folder)) {
        throw new StateError(`${where} cannot be written: ${folder} is a file of the state, so it cannot also be a folder`);
      }
    }
    let bytes: Uint8Array;
    if (typeof content === "string") bytes = new TextEncoder().encode(content);
    else if (isUint8Array(content)) bytes = new Uint8Array(content); // a copy: the caller may reuse its buffer
    else throw new StateError(`${where}: content must be a Uint8Array or a string`);
    for (let i = 1; i < parts.length; i++) this.folders.add(parts.slice(0, i).join("/"));
    this.files.set(path, bytes);
    this.pending += 1;
    try {
      this.sums.set(path, { sha256: await sha256Hex(bytes), bytes: bytes.length });
    } finally {
      this.pending -= 1;
    }
  }

  /** The manifest's `files`. */
  entries(): Record<string, FileEntry> {
    const out: Record<string, FileEntry> = {};
    for (const [path, entry] of this.sums) out[path] = entry;
    return out;
  }

  /** Refuses every later writeFile (the write callback has returned or thrown). */
  close(): void {
    this.closed = true;
  }

  /** Throws a StateError when a writeFile had not finished when the callback returned. */
  checkComplete(): void {
    if (this.pending === 0) return;
    const unfinished = [...this.files.keys()].filter((path) => !this.sums.has(path));
    throw new StateError(
      `${this.location}/${unfinished[0] ?? "?"}: writeFile had not finished when the write callback returned ` +
        `(a missing await?); nothing was written`,
    );
  }
}

/** True for a Uint8Array of any realm (records come back from IndexedDB's structured clone). */
function isUint8Array(value: unknown): value is Uint8Array {
  return Object.prototype.toString.call(value) === "[object Uint8Array]";
}
