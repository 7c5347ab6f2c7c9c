/**
 * Where a state folder path really is, and how two of them overlap.
 *
 * Deciding "is the output the input state?" or "is the output inside the
 * input?" by comparing path strings is wrong as soon as a symlink is involved
 * (the `state/current -> v3` deployment pattern): `state/current` and
 * `state/v3` are one folder. So every such decision compares real paths.
 *
 * Decision: an output that is a symlink to a folder is FOLLOWED: the new
 * state is written atomically where it points (the link itself is left as
 * it is). A dangling symlink is refused: where to write is unclear.
 */
import { lstat, readFile, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { StateError } from "../errors.js";
import { LIBRARY_NAME, MANIFEST_FILE } from "./format.js";

/**
 * The real absolute path of `path` (symlinks resolved), also when it does not
 * exist yet: then the real path of its nearest existing ancestor joined with
 * the rest. Throws a StateError naming a dangling symlink.
 */
export async function realStatePath(path: string): Promise<string> {
  const absolute = resolve(path);
  let isLink: boolean;
  try {
    isLink = (await lstat(absolute)).isSymbolicLink();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw unusablePath(path, error);
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await realStatePath(parent), basename(absolute));
  }
  try {
    return await realpath(absolute);
  } catch (error) {
    if (isLink && (error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new StateError(
        `${path} is a symlink to a folder that does not exist: point it at a state folder (or remove it) before writing a state there`,
        { cause: error },
      );
    }
    throw unusablePath(path, error);
  }
}

/**
 * A path no state can be read from or written to (a symlink loop, a file where a folder must be, no permission):
 * a StateError naming it (exit 1), not an unexpected failure.
 */
function unusablePath(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ELOOP: "goes through a loop of symlinks",
    ENOTDIR: "goes through a file where a folder must be",
    EACCES: "cannot be read (permission denied)",
    ENAMETOOLONG: "is too long",
  };
  const reason = code === undefined ? undefined : why[code];
  return reason === undefined ? error : new StateError(`${path} ${reason}: give a state folder path that can be resolved`, { cause: error });
}

/** True when `inner` lies strictly inside `outer` (both absolute, already real). */
export function isInsideFolder(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Refuses an output state folder (a real path) inside ANY relearn state folder (an ancestor whose manifest.json
 * names relearn; another tool's manifest.json is no state): the new folder would be an unlisted entry that makes
 * that state unreadable.
 */
export async function refuseOutputInsideState(output: string): Promise<void> {
  for (let folder = dirname(output); folder !== dirname(folder); folder = dirname(folder)) {
    const text = await readFile(join(folder, MANIFEST_FILE), "utf8").catch(() => undefined);
    if (text !== undefined && isRelearnManifest(text)) {
      throw new StateError(
        `the output state folder ${output} is inside the state folder ${folder}: writing it would add an unlisted entry ` +
          `to that state and make it unreadable. Choose an output folder outside ${folder}`,
      );
    }
  }
}

function isRelearnManifest(text: string): boolean {
  try {
    return (JSON.parse(text) as { library?: { name?: unknown } } | null)?.library?.name === LIBRARY_NAME;
  } catch {
    return false;
  }
}

/**
 * Refuses an output state folder nested in the input state folder or
 * containing it (any depth, real paths): writing it would add an unlisted
 * entry to the input state (or replace the input while reading it).
 */
export async function refuseNestedStates(input: string, output: string): Promise<void> {
  const [realInput, realOutput] = await Promise.all([realStatePath(input), realStatePath(output)]);
  if (isInsideFolder(realOutput, realInput)) {
    throw new StateError(
      `the output state folder ${output} is inside the input state folder ${input}` +
        `${realInput === resolve(input) ? "" : ` (${realInput})`}: writing it would change the input state. ` +
        `Choose an output folder outside ${input}, e.g. next to it`,
    );
  }
  if (isInsideFolder(realInput, realOutput)) {
    throw new StateError(
      `the output state folder ${output} contains the input state folder ${input}: replacing it would delete the input state. ` +
        `Choose an output folder that does not contain ${input}`,
    );
  }
}
