/**
 * The files of a state folder being written (Node): a StateWriter into the
 * temporary folder of a write (atomic_folder.ts). Reading needs no folder
 * counterpart: read_state.ts reads a folder whole and serves it from memory.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StateError } from "../errors.js";
import { checkRelativePath } from "./format.js";
import type { StateWriter } from "./store.js";

/** Writes files into `dir` (a fresh folder), creating subfolders; a path written twice is a StateError. */
export function folderWriter(dir: string): StateWriter {
  return {
    location: dir,
    async writeFile(path, content) {
      const problem = checkRelativePath(path);
      if (problem !== undefined) throw new StateError(`cannot write "${path}" into ${dir}: the path ${problem}`);
      const full = join(dir, ...path.split("/"));
      await mkdir(dirname(full), { recursive: true });
      try {
        await writeFile(full, content, { flag: "wx" });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new StateError(`${full} was written twice while building one state`, { cause: error });
        throw error;
      }
    },
  };
}
