/**
 * Raw access to a fake-indexeddb database, to damage a stored state the way
 * a browser extension, devtools or a bug could, bypassing the store.
 */
import { IDBFactory } from "fake-indexeddb";
import { indexedDbStore, type IndexedDbStateStore } from "../../src/state/idb_store.js";

/** A store over a fresh, isolated fake IndexedDB (its own factory), plus that factory. */
export function freshStore(databaseName = "relearn-test"): { store: IndexedDbStateStore; factory: IDBFactory } {
  const factory = new IDBFactory();
  return { store: indexedDbStore({ indexedDB: factory, databaseName }), factory };
}

/** Runs `change` on `storeName` in one readwrite transaction of the database, outside any relearn code. */
export async function rawChange(
  factory: IDBFactory,
  databaseName: string,
  storeName: "states" | "files",
  change: (store: IDBObjectStore) => void,
): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(databaseName);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(storeName, "readwrite");
      change(tx.objectStore(storeName));
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Every record of `storeName`. */
export async function rawRecords(factory: IDBFactory, databaseName: string, storeName: "states" | "files"): Promise<unknown[]> {
  let records: unknown[] = [];
  await rawChange(factory, databaseName, storeName, (store) => {
    const request = store.getAll();
    request.onsuccess = () => (records = request.result);
  });
  return records;
}
