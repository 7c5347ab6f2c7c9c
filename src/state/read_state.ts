/**
 * Reading and verifying a state folder (SPEC section 4): a folder that is
 * absent means "start fresh"; a folder that exists but is damaged or of
 * another format is a StateError, never a silent fresh start.
 *
 * Decisions:
 * - An EMPTY folder is a fresh start too (null): it holds no state to lose,
 *   and `mkdir state && relearn update --state state` should just work.
 * - Files the manifest does not list are ignored: relearn never reads them,
 *   so they cannot corrupt a resume, and OS litter (.DS_Store, editor
 *   backups) must not block one.
 * - Every listed file is checked (size, then SHA-256) before anything is
 *   returned, so a caller never resumes from half a state.
 * - A missing folder with a `.old-` crash leftover beside it is a StateError
 *   telling how to recover (see atomic_folder.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readFile, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { z } from "zod";
import { StateError } from "../errors.js";
import { errorCode, findLeftoverSiblings } from "./atomic_folder.js";
import {
  LIBRARY_VERSION,
  MANIFEST_FILE,
  STATE_FORMAT_VERSION,
  checkRelativePath,
  manifestSchema,
  type StateManifest,
} from "./format.js";

/** A verified state folder. */
export interface StateFolder<Data = unknown> {
  /** Absolute path of the folder. */
  dir: string;
  manifest: StateManifest;
  /** `manifest.data`, parsed by `dataSchema` when one was given. */
  data: Data;
}

/** Options of {@link readStateFolder}. */
export interface ReadStateFolderOptions {
  /** The kind the caller can resume from (e.g. "repeated-distillation"); another kind is a StateError. */
  kind?: string;
}

/**
 * Reads and verifies the state folder at `dir`. Returns null when `dir` does
 * not exist or is empty (fresh start). Throws a StateError naming the file at
 * fault when the folder is not a complete, unmodified state of the supported
 * format and expected kind. With `dataSchema`, `data` is parsed by it too.
 */
export async function readStateFolder(dir: string, options?: ReadStateFolderOptions): Promise<StateFolder | null>;
export async function readStateFolder<Schema extends z.ZodType>(
  dir: string,
  options: ReadStateFolderOptions & { dataSchema: Schema },
): Promise<StateFolder<z.output<Schema>> | null>;
export async function readStateFolder(
  dir: string,
  options: ReadStateFolderOptions & { dataSchema?: z.ZodType } = {},
): Promise<StateFolder | null> {
  const target = resolve(dir);
  if (!(await folderExists(target))) {
    await refuseCrashedSwap(target);
    return null;
  }
  const names = await readdir(target);
  if (names.length === 0) return null;

  const manifestPath = join(target, MANIFEST_FILE);
  const manifest = await readManifest(manifestPath, target);
  if (options.kind !== undefined && manifest.kind !== options.kind) {
    throw new StateError(
      `${manifestPath} is a state of kind "${manifest.kind}", but a "${options.kind}" state was expected`,
    );
  }
  for (const relative of Object.keys(manifest.files).sort()) {
    await verifyFile(target, relative, manifest.files[relative]!.bytes, manifest.files[relative]!.sha256);
  }

  let data: unknown = manifest.data;
  if (options.dataSchema !== undefined) {
    const parsed = options.dataSchema.safeParse(data);
    if (!parsed.success) {
      throw new StateError(`${manifestPath}: ${describeIssue(parsed.error, ["data"])}`);
    }
    data = parsed.data;
  }
  return { dir: target, manifest, data };
}

async function folderExists(target: string): Promise<boolean> {
  let stats;
  try {
    stats = await stat(target);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    if (errorCode(error) === "ENOTDIR") {
      throw new StateError(`${target} cannot be a state folder: one of its parent paths is a file`, { cause: error });
    }
    throw new StateError(`cannot read the state folder ${target}: ${String(error)}`, { cause: error });
  }
  if (!stats.isDirectory()) throw new StateError(`${target} exists but is not a folder, so it cannot be a state folder`);
  return true;
}

async function refuseCrashedSwap(target: string): Promise<void> {
  const old = (await findLeftoverSiblings(target)).filter((leftover) => leftover.type === "old");
  if (old.length === 0) return;
  throw new StateError(
    `${target} is missing but ${old.map((o) => o.path).join(" and ")} exists: a previous write of this state ` +
      `folder stopped between its two renames, and that folder is the last complete state. Rename it to ${target} ` +
      `to resume from it, or delete it to start fresh.`,
  );
}

async function readManifest(manifestPath: string, target: string): Promise<StateManifest> {
  let text: string;
  try {
    text = await readFile(manifestPath, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") {
      throw new StateError(
        `${manifestPath} is missing: ${target} is not a relearn state folder, or writing it did not finish`,
      );
    }
    throw new StateError(`cannot read ${manifestPath}: ${String(error)}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StateError(`${manifestPath} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  // Checked before the schema: a newer format may differ anywhere, and "found 2, supported 1" is the useful message.
  const found = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof json === "object" && json !== null && found !== undefined && found !== STATE_FORMAT_VERSION) {
    throw new StateError(
      `${manifestPath} has formatVersion ${JSON.stringify(found)}, but this relearn (${LIBRARY_VERSION}) ` +
        `supports formatVersion ${STATE_FORMAT_VERSION} only`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new StateError(`${manifestPath} is not a valid state manifest: ${describeIssue(parsed.error, [])}`);
  }
  for (const relative of Object.keys(parsed.data.files)) {
    const problem = checkRelativePath(relative);
    if (problem !== undefined) {
      throw new StateError(`${manifestPath} lists the file "${relative}", whose path ${problem}`);
    }
  }
  return parsed.data as StateManifest;
}

async function verifyFile(target: string, relative: string, bytes: number, sha256: string): Promise<void> {
  const path = join(target, ...relative.split("/"));
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") {
      throw new StateError(`${path} is missing (listed in ${MANIFEST_FILE})`, { cause: error });
    }
    throw error;
  }
  if (!stats.isFile()) throw new StateError(`${path} is not a regular file (listed in ${MANIFEST_FILE} as one)`);
  if (stats.size !== bytes) {
    throw new StateError(
      `${path} has ${stats.size} bytes but ${MANIFEST_FILE} lists ${bytes}: checksum mismatch: the file was modified or truncated`,
    );
  }
  const actual = await sha256Of(path);
  if (actual !== sha256) {
    throw new StateError(
      `${path}: checksum mismatch: the file was modified or truncated (sha256 ${actual}, ${MANIFEST_FILE} lists ${sha256})`,
    );
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The first schema issue as `field "a.b": message` (zod's own message). */
function describeIssue(error: z.ZodError, prefix: readonly PropertyKey[]): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid";
  const path = [...prefix, ...issue.path].map(String).join(".");
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more issue(s))` : "";
  return `${path === "" ? "" : `field "${path}": `}${issue.message}${more}`;
}
