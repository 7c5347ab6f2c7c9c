/**
 * A StateReader over files already verified and held in memory: what every
 * store hands out (IndexedDB records, and a state folder read whole, so a
 * writer swapping the folder in afterwards cannot change what the caller reads).
 * Host-neutral: no Node modules.
 */
import { StateError } from "../errors.js";
import { MANIFEST_FILE } from "./format.js";
import type { StateReader } from "./store.js";

/** `files` maps each listed path ("memory/x.bin") to its verified bytes; `location` names the state in messages. */
export function memoryReader(location: string, files: ReadonlyMap<string, Uint8Array>): StateReader {
  return {
    location,
    has: (path) => files.has(path),
    async readFile(path) {
      const bytes = files.get(path);
      if (bytes === undefined) throw new StateError(`${location}/${path} is not a file of this state (not listed in ${MANIFEST_FILE})`);
      // A copy, so a caller that edits what it read cannot change what the next reader gets.
      return bytes.slice();
    },
  };
}
