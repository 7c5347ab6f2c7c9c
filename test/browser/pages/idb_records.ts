/**
 * Raw access to the records of relearn's IndexedDB store (state/idb_store.ts:
 * database "relearn", object store "states" with one record per state, "files"
 * with one record `{ name, path, bytes }` per file), below the StateStore, so
 * the tests can see partial writes and damage records the way a bug, an
 * extension or a disk error would.
 */

const DATABASE = "relearn";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

async function openExisting(): Promise<IDBDatabase | undefined> {
  const names = (await indexedDB.databases()).map((d) => d.name);
  if (!names.includes(DATABASE)) return undefined;
  return request(indexedDB.open(DATABASE));
}

/** Every record's primary key (as JSON), by object store: what is really stored. */
export async function storedKeys(): Promise<Record<string, string[]>> {
  const db = await openExisting();
  if (db === undefined) return {};
  try {
    const out: Record<string, string[]> = {};
    const storeNames = Array.from(db.objectStoreNames);
    const tx = db.transaction(storeNames, "readonly");
    for (const storeName of storeNames) {
      const keys = await request(tx.objectStore(storeName).getAllKeys());
      out[storeName] = keys.map((key) => JSON.stringify(key)).sort();
    }
    return out;
  } finally {
    db.close();
  }
}

/**
 * Flips one byte in the middle of the stored file `path` of state `name`
 * (through the cursor, so the record's key is whatever the store made it).
 * False when there is no such record.
 */
export async function corruptStoredFile(name: string, path: string): Promise<boolean> {
  const db = await openExisting();
  if (db === undefined) return false;
  try {
    const tx = db.transaction("files", "readwrite");
    let found = false;
    await new Promise<void>((resolve, reject) => {
      const cursorRequest = tx.objectStore("files").openCursor();
      cursorRequest.onerror = () => reject(cursorRequest.error ?? new Error("cursor failed"));
      cursorRequest.onsuccess = () => {
        const cursor = cursorRequest.result;
        if (cursor === null) return resolve();
        const record = cursor.value as { name?: unknown; path?: unknown; bytes?: Uint8Array };
        if (record.name === name && record.path === path && record.bytes instanceof Uint8Array && record.bytes.length > 0) {
          const bytes = record.bytes.slice();
          const middle = Math.floor(bytes.length / 2);
          bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
          cursor.update({ ...record, bytes });
          found = true;
        }
        cursor.continue();
      };
    });
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error("transaction failed"));
    });
    return found;
  } finally {
    db.close();
  }
}

/**
 * From now on, the first `put` into the "files" object store of a readwrite
 * transaction (a state being committed) sets `globalThis.relearnWriteStalled`
 * and keeps that transaction busy forever with reads, so it can never commit:
 * the test then closes the page in the middle of the state write.
 */
export function stallStateWrites(): void {
  const original = IDBObjectStore.prototype.put;
  const flags = globalThis as unknown as { relearnWriteStalled?: boolean };
  IDBObjectStore.prototype.put = function put(this: IDBObjectStore, ...args: Parameters<IDBObjectStore["put"]>) {
    const result = original.apply(this, args);
    if (this.name === "files" && flags.relearnWriteStalled !== true) {
      flags.relearnWriteStalled = true;
      const spin = (store: IDBObjectStore): void => {
        store.count().onsuccess = () => spin(store);
      };
      spin(this);
    }
    return result;
  };
}
