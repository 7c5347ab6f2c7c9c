/**
 * The writer lock of a state kept in the browser (idb_store.ts): a Web Lock
 * where the host has `navigator.locks` (pages and Workers of one origin share
 * them, so two tabs cannot update the same state at once), an in-process
 * table where it does not (Node, where IndexedDB is a test double living in
 * this one process anyway).
 *
 * Web Locks are released by the browser when the tab or worker holding one
 * goes away, so a closed tab never leaves a state locked (unlike a lock file).
 * They record no holder, so a refusal can only say "another tab or worker".
 */
import { StateError } from "../errors.js";
import type { StateLock } from "./store.js";

/**
 * Takes the lock `lockName` (`what` names the state for messages) without
 * waiting: a StateError at once when another holder has it. With `locks`
 * undefined, `table` (the lock names held in this process) is used instead.
 */
export async function takeBrowserLock(
  locks: LockManager | undefined,
  table: Set<string>,
  lockName: string,
  what: string,
): Promise<StateLock> {
  return locks === undefined ? takeTableLock(table, lockName, what) : takeWebLock(locks, lockName, what);
}

function refused(what: string): StateError {
  return new StateError(
    `${what} is locked: another tab or worker is updating that state. Wait for it to finish (or close that tab) and try again`,
  );
}

function takeTableLock(table: Set<string>, lockName: string, what: string): StateLock {
  if (table.has(lockName)) throw refused(what);
  table.add(lockName);
  let released = false;
  return {
    // Nothing can take a table lock from its holder.
    verify: async () => {},
    release: async () => {
      if (released) return;
      released = true;
      table.delete(lockName);
    },
  };
}

async function takeWebLock(locks: LockManager, lockName: string, what: string): Promise<StateLock> {
  let releaseHeld!: () => void;
  const held = new Promise<void>((resolve) => (releaseHeld = resolve));
  let released = false;
  // Set when the lock ends while we still hold it: another context requested it with `steal: true`.
  let lost: unknown;
  let ended: Promise<unknown> = Promise.resolve();
  const granted = await new Promise<boolean>((resolve, reject) => {
    let answered = false;
    ended = locks
      .request(lockName, { ifAvailable: true }, (lock) => {
        answered = true;
        resolve(lock !== null);
        // The lock is held until the promise the callback returns settles.
        return lock === null ? undefined : held;
      })
      .catch((error: unknown) => {
        if (!answered) {
          reject(new StateError(`cannot take the lock of ${what} (Web Locks refused: ${String(error)})`, { cause: error }));
        } else if (!released) {
          lost = error;
        }
      });
  });
  if (!granted) throw refused(what);
  return {
    verify: async () => {
      if (lost !== undefined) {
        throw new StateError(
          `lost the lock of ${what}: another tab or worker took it over (${String(lost)}), so nothing was written; ` +
            `run the update again once that one has finished`,
          { cause: lost },
        );
      }
    },
    release: async () => {
      if (released) return;
      released = true;
      releaseHeld();
      // The browser frees the lock only once the callback's promise has settled: wait for that, so a caller that
      // releases and at once takes the lock again (the next update) is not refused by itself.
      await ended;
    },
  };
}
