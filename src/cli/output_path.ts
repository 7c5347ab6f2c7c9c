/**
 * Output paths checked before any work: a command that trains for an hour and then finds that `--out` is a file
 * loses the hour. Each check looks at the path as it is now (without creating anything) and throws an OptionsError
 * naming the flag and what to change; a path that passes can still fail later (a full disk), but not for a reason
 * the user could have been told at once.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { OptionsError } from "../errors.js";

/** What is at `path`: "folder", "file" (anything not a folder) or undefined when nothing is there. */
async function kindOf(path: string): Promise<"folder" | "file" | undefined> {
  try {
    return (await stat(path)).isDirectory() ? "folder" : "file";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a parent on the way is a file; the walk up in `creatable` finds and names it.
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new OptionsError(`cannot look at ${path}: ${(error as Error).message}`);
  }
}

/** Throws unless a missing `path` could be made with mkdir -p: its nearest existing ancestor is a folder we may write in. */
async function checkCreatable(path: string, flag: string, given: string): Promise<void> {
  let ancestor = dirname(path);
  for (;;) {
    const kind = await kindOf(ancestor);
    if (kind === "file") throw new OptionsError(`${flag} ${given}: cannot be created: ${ancestor} is a file, not a folder`);
    if (kind === "folder") break;
    const up = dirname(ancestor);
    if (up === ancestor) break;
    ancestor = up;
  }
  await checkWritable(ancestor, flag, given, `cannot be created: no permission to write in ${ancestor}`);
}

async function checkWritable(path: string, flag: string, given: string, problem: string): Promise<void> {
  try {
    await access(path, constants.W_OK);
  } catch {
    throw new OptionsError(`${flag} ${given}: ${problem}`);
  }
}

/** `given` (as typed after `flag`) is an existing folder we may write in, or can be created as one. */
export async function checkOutputFolder(given: string, flag: string): Promise<void> {
  const path = resolve(given);
  const kind = await kindOf(path);
  if (kind === "file") throw new OptionsError(`${flag} ${given}: is a file; ${flag} is a folder: choose another path, or remove the file`);
  if (kind === "folder") return checkWritable(path, flag, given, "no permission to write in this folder");
  return checkCreatable(path, flag, given);
}

/** `given` is a file we may (over)write, or can be created (its folder made if missing); never an existing folder. */
export async function checkOutputFile(given: string, flag: string, example = "out.csv"): Promise<void> {
  const path = resolve(given);
  const kind = await kindOf(path);
  if (kind === "folder") throw new OptionsError(`${flag} ${given}: is a folder; ${flag} is a file: name a file (e.g. ${given.replace(/\/+$/, "")}/${example})`);
  if (kind === "file") return checkWritable(path, flag, given, "no permission to overwrite this file");
  return checkCreatable(path, flag, given);
}
