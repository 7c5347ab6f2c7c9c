/**
 * One writer per state folder: `<outDir>.lock`, created exclusively, holds the
 * writer's pid. A second update writing the same output fails at once with a
 * clear message instead of racing; a lock left by a dead process (killed
 * mid-update) is taken over.
 */
import { open, readFile, rm, mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { StateError } from "../errors.js";

export interface StateLock {
  readonly path: string;
  release(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock of `outDir` or throws a StateError naming the holder. */
export async function lockStateFolder(outDir: string): Promise<StateLock> {
  const path = `${resolve(outDir)}.lock`;
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) {
        throw new StateError(`${outDir} is being written by another update (process ${holder}, lock ${path}); wait for it or choose another output folder`);
      }
      if (holder === process.pid) {
        throw new StateError(`${outDir} is already being written by another update in this process (lock ${path})`);
      }
      // The holder is gone (killed mid-update): its lock is stale.
      await rm(path, { force: true });
    }
  }
  throw new StateError(`could not take the lock ${path}`);
}
