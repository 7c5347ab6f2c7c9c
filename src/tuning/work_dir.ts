/**
 * The folder a tuning run's trials write their states into: made fresh, removed when the run ends, and also when
 * the process exits first (Ctrl-C: cli/interrupt.ts exits through process.exit, which runs 'exit' listeners, while a
 * pending `finally` never runs).
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";

/** Runs `body` with a new folder named `prefix` + random characters; the folder is gone afterwards. */
export async function withWorkDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(prefix);
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", onExit);
  try {
    return await body(dir);
  } finally {
    process.off("exit", onExit);
    await rm(dir, { recursive: true, force: true });
  }
}
