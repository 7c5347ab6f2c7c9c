/**
 * The files of a state folder (Node): a StateReader over a verified folder
 * and a StateWriter into the temporary folder of a write (atomic_folder.ts).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StateError } from "../errors.js";
import { checkRelativePath, type StateManifest } from "./format.js";
import type { StateReader, StateWriter } from "./store.js";

/** Reads the files `manifest` lists from the folder `dir`; any other path is a StateError. */
export function folderReader(dir: string, manifest: StateManifest): StateReader {
  return {
    location: dir,
    has: (path) => Object.hasOwn(manifest.files, path),
    async readFile(path) {
      const full = join(dir, ...path.split("/"));
      if (!Object.hasOwn(manifest.files, path)) throw new StateError(`${full} is missing (not listed in ${dir}/manifest.json)`);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(full);
      } catch (error) {
        throw new StateError(`cannot read ${full}: ${String(error)}`, { cause: error });
      }
      // Verified when the state was read; a size change since means someone is editing the folder under us.
      if (bytes.byteLength !== manifest.files[path]!.bytes) {
        throw new StateError(`${full} changed after the state was read (${bytes.byteLength} bytes, manifest.json lists ${manifest.files[path]!.bytes})`);
      }
      return bytes;
    },
  };
}

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
