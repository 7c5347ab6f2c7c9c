import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { lockStateFolder } from "../../src/state/lock.js";
import { StateError } from "../../src/errors.js";

test("one writer per output folder: a second lock fails clearly; release frees it; a dead holder's lock is taken over", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-lock-"));
  try {
    const out = join(dir, "state");
    const first = await lockStateFolder(out);
    await assert.rejects(lockStateFolder(out), (e: unknown) => e instanceof StateError && /already being written/.test((e as Error).message));
    await first.release();
    const second = await lockStateFolder(out);
    await second.release();

    // a live other process holds it
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"]);
    await writeFile(`${out}.lock`, `${sleeper.pid}\n`);
    await assert.rejects(lockStateFolder(out), (e: unknown) => e instanceof StateError && new RegExp(`process ${sleeper.pid}`).test((e as Error).message));
    sleeper.kill("SIGKILL");
    await new Promise((r) => sleeper.once("exit", r));
    // now it is stale
    const third = await lockStateFolder(out);
    assert.equal((await readFile(`${out}.lock`, "utf8")).trim(), String(process.pid));
    await third.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
