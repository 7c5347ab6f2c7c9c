/**
 * Where the demo keeps its states: an IndexedDB database of its own, so
 * "start over" can delete the whole database without touching the states of
 * another relearn app on the same origin. (The page does not import the
 * store itself: it would pull the state format and zod into the page bundle.)
 */
export const DEMO_DATABASE = "relearn-demo";

/**
 * Deletes the demo's database. Stores close their connections when asked
 * (versionchange), so "blocked" only means waiting for a busy one to finish;
 * the request completes then.
 */
export function deleteDemoDatabase(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DEMO_DATABASE);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error ?? new Error(`could not delete the IndexedDB database ${DEMO_DATABASE}`));
  });
}
