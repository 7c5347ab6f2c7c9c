/**
 * Output paths checked before any work: a command that trains for an hour and then finds that `--out` is a file
 * loses the hour. Each check looks at the path as it is now (without creating anything) and throws an OptionsError
 * naming the flag and what to change; a path that passes can still fail later (a full disk), but not for a reason
 * the user could have been told at once.
 */
import { mkdtemp, open, rmdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
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
  await checkFolderWritable(ancestor, flag, given, `cannot be created in ${ancestor}`);
}

/**
 * Makes and removes an empty folder in `folder`: the one test that holds for permissions, read-only file systems
 * and special folders (/proc) alike, where asking access(2) would say yes to root.
 */
async function checkFolderWritable(folder: string, flag: string, given: string, problem: string): Promise<void> {
  try {
    await rmdir(await mkdtemp(join(folder, ".relearn-write-check-")));
  } catch (error) {
    throw new OptionsError(`${flag} ${given}: ${problem} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Opens an existing file for writing without changing it. */
async function checkFileWritable(path: string, flag: string, given: string): Promise<void> {
  try {
    await (await open(path, "r+")).close();
  } catch (error) {
    throw new OptionsError(`${flag} ${given}: cannot overwrite this file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** `given` (as typed after `flag`) is an existing folder we may write in, or can be created as one. */
export async function checkOutputFolder(given: string, flag: string): Promise<void> {
  const path = resolve(given);
  const kind = await kindOf(path);
  if (kind === "file") throw new OptionsError(`${flag} ${given}: is a file; ${flag} is a folder: choose another path, or remove the file`);
  if (kind === "folder") return checkFolderWritable(path, flag, given, "cannot write in this folder");
  return checkCreatable(path, flag, given);
}

/** `given` is a file we may (over)write, or can be created (its folder made if missing); never an existing folder. */
export async function checkOutputFile(given: string, flag: string, example = "out.csv"): Promise<void> {
  const path = resolve(given);
  const kind = await kindOf(path);
  if (kind === "folder") throw new OptionsError(`${flag} ${given}: is a folder; ${flag} is a file: name a file (e.g. ${given.replace(/\/+$/, "")}/${example})`);
  if (kind === "file") return checkFileWritable(path, flag, given);
  return checkCreatable(path, flag, given);
}

/**
 * Runs the final write of an output checked above: a failure there that no check could foresee (a full disk, a
 * device that refuses writes) is still a one-line error naming the flag, not an "unexpected failure" stack trace.
 */
export async function writingOutput<T>(given: string, flag: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) throw error;
    throw new OptionsError(`${flag} ${given}: cannot write: ${(error as Error).message}`, { cause: error });
  }
}
