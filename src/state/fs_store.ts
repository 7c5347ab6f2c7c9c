/**
 * The file-system state store (Node): a state is a folder.
 *
 * Writing builds the folder in a temporary sibling and swaps it in with two
 * renames (atomic_folder.ts); reading verifies the manifest and every
 * checksum and refuses unlisted files (read_state.ts), reading the folder
 * whole and again if a commit swapped it under the read (read_retry.ts); `<folder>.lock` keeps
 * one writer per folder (lock.ts); symlinked paths are followed and states
 * nested in states refused (real_path.ts).
 */
import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import { StateError } from "../errors.js";
import { checkReplaceable, errorCode, recoverInterruptedSwap, writeStateFolder } from "./atomic_folder.js";
import { folderWriter } from "./folder_files.js";
import { MANIFEST_FILE } from "./format.js";
import { lockStateFolder } from "./lock.js";
import { readStateFolder } from "./read_state.js";
import { realStatePath, refuseNestedStates, refuseOutputInsideState } from "./real_path.js";
import type { StateStore } from "./store.js";

const store: StateStore = {
  kind: "filesystem",
  resolve: realStatePath,
  read: (name, options) => readStateFolder(name, options),
  async write(name, options) {
    const target = await realStatePath(name);
    return writeStateFolder(target, {
      kind: options.kind,
      write: (tmp) => options.write(folderWriter(tmp)),
      beforeSwap: async () => {
        await options.beforeCommit?.();
        if (options.expectedPrevious !== undefined) await checkPrevious(target, options.expectedPrevious);
      },
    });
  },
  lock: lockStateFolder,
  async holdsState(name) {
    const target = await realStatePath(name);
    await recoverInterruptedSwap(target);
    return lstat(join(target, MANIFEST_FILE)).then(() => true, () => false);
  },
  async checkWritable(output, input) {
    const target = await realStatePath(output);
    if (input !== undefined) await refuseNestedStates(input, target);
    await refuseOutputInsideState(target);
    await checkReplaceable(target);
  },
};

/** The file-system store: state names are folder paths (relative to the working directory, or absolute). */
export function fileSystemStore(): StateStore {
  return store;
}

/**
 * The compare-and-swap of StateStore.write: `target`'s manifest must still
 * carry `expected` (null: no state there). Run under the writer lock, just
 * before the swap, so only a writer that ignored the lock could slip between.
 */
async function checkPrevious(target: string, expected: string | null): Promise<void> {
  let found: string | null;
  try {
    const manifest = JSON.parse(await readFile(join(target, MANIFEST_FILE), "utf8")) as { manifestSha256?: unknown };
    found = typeof manifest.manifestSha256 === "string" ? manifest.manifestSha256 : "(no manifestSha256)";
  } catch (error) {
    if (errorCode(error) !== "ENOENT") found = "(unreadable)";
    else found = null;
  }
  if (found === expected) return;
  throw new StateError(
    `${target} was changed by another writer since this updater ${expected === null ? "checked it was empty" : "read or wrote it"} ` +
      `(manifest ${found ?? "gone"}, expected ${expected ?? "none"}): nothing was written, so no update is lost. ` +
      `Resume from the state now there (give it as the input state: inputStateFolder, --input-state) and update again`,
  );
}
