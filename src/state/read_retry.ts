/**
 * Reading a state folder while a writer may commit over it (tester F-N).
 *
 * A commit replaces the folder with two renames (atomic_folder.ts): `state` ->
 * `state.old-…`, `state.tmp-…` -> `state`. A reader goes by path, so one that
 * started on the old folder can find, midway, a file gone (between the
 * renames, or once the old folder is deleted), or the new folder's file where
 * it expected the old one's (a size or checksum mismatch, an unlisted file).
 * None of that means damage: the reader just has to start again, and will
 * see the old state or the new one, whole.
 *
 * So a failed read is retried when the folder was swapped during it: the
 * folder at the path is another one (device and inode), is gone, or holds
 * another manifest than the one the read started from; or a live writer's
 * `.tmp-`/`.old-` sibling shows a commit under way. A read that fails on a
 * folder nobody changed is a real fault and is reported at once. When the
 * folder keeps changing through every attempt, a StateBusyError says so
 * (nothing is damaged: try again), never a message that reads like damage;
 * a failure that only a live writer's sibling could explain (the folder
 * itself never changed) is reported as it is once the attempts run out.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StateBusyError, StateError } from "../errors.js";
import { errorCode, findLeftoverSiblings, isWriterGone } from "./atomic_folder.js";
import { MANIFEST_FILE } from "./format.js";

/** Attempts before giving up with a StateBusyError: commits are seconds apart, a read takes milliseconds. */
const READ_ATTEMPTS = 8;

/** What a read attempt saw, to tell afterwards whether the folder changed under it. */
export interface ReadAttempt {
  /** manifest.json's text as the attempt read it (set by the attempt once read). */
  manifestText?: string;
}

/**
 * Runs `read` on the state folder `target` (absolute), again while it fails because a writer swapped the
 * folder during it (see the module comment); its result, or the error of a read no writer explains.
 */
export async function readWhileCommitting<T>(target: string, read: (attempt: ReadAttempt) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const before = await folderIdentity(target);
    const seen: ReadAttempt = {};
    try {
      return await read(seen);
    } catch (error) {
      // Only what a swap can cause: a StateError about the folder's content, or a file-system error (ENOENT...).
      if (!(error instanceof StateError) && errorCode(error) === undefined) throw error;
      if (error instanceof StateBusyError) throw error;
      const change = await changeDuring(target, before, seen);
      if (change === undefined) throw error;
      if (attempt >= READ_ATTEMPTS) {
        // A commit merely under way beside a folder that never changed does not explain the failure: it stands.
        if (change === "commit under way") throw error;
        throw new StateBusyError(
          `${target} was replaced by a writer during each of ${attempt} attempts to read it (each update commits a ` +
            `new state folder there): nothing is wrong with it, read it again (last attempt: ${(error as Error).message})`,
          { cause: error },
        );
      }
      await sleep(10 * attempt + Math.random() * 20);
    }
  }
}

/**
 * How the folder at `target` changed since the attempt started: "swapped" when another folder (or none) is there
 * now, or another manifest; "commit under way" when only a live writer's `.tmp-`/`.old-` sibling says one may
 * have been; undefined when nothing did.
 */
async function changeDuring(target: string, before: string | null, seen: ReadAttempt): Promise<"swapped" | "commit under way" | undefined> {
  if ((await folderIdentity(target)) !== before) return "swapped";
  if (seen.manifestText !== undefined) {
    const now = await readFile(join(target, MANIFEST_FILE), "utf8").catch(() => undefined);
    if (now !== seen.manifestText) return "swapped";
  }
  return (await findLeftoverSiblings(target)).some((leftover) => !isWriterGone(leftover)) ? "commit under way" : undefined;
}

/**
 * The folder's device and inode ("dev:ino"): a commit puts another folder at the path. Null when there is none
 * (or it cannot be looked at: the read itself then says why).
 */
async function folderIdentity(target: string): Promise<string | null> {
  try {
    const stats = await stat(target, { bigint: true });
    return `${stats.dev}:${stats.ino}`;
  } catch {
    return null;
  }
}
