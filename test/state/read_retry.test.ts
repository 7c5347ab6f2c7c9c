/**
 * read_retry.ts on its own (tester F-N): a read that fails because a writer swapped the folder under it is started
 * again; one that fails on a folder nobody changed is damage, reported at once; a folder that writers keep
 * replacing is a StateBusyError (nothing is damaged), never a message that reads like damage.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateBusyError, StateError } from "../../src/errors.js";
import { writeStateFolder, writerTag } from "../../src/state/atomic_folder.js";
import { currentProcess } from "../../src/state/process_identity.js";
import { readWhileCommitting } from "../../src/state/read_retry.js";

async function scratchState(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "relearn-read-retry-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, "state");
  await commit(out, 0);
  return out;
}

function commit(out: string, version: number) {
  return writeStateFolder(out, { kind: "test-updater", data: { version }, write: (tmp) => writeFile(join(tmp, "model.json"), `{"v":${version}}`) });
}

test("a read that a commit swapped the folder under is read again, and returns what the retry read", async (t) => {
  const out = await scratchState(t);
  let calls = 0;
  const result = await readWhileCommitting(out, async () => {
    calls++;
    if (calls === 1) {
      await commit(out, 1); // the writer commits mid-read: the file the read wanted changed under it
      throw new StateError(`${out}/model.json changed after the state was read`);
    }
    return "whole";
  });
  assert.equal(result, "whole");
  assert.equal(calls, 2);
});

test("a read that fails on a folder nobody changed is damage: the error at once, no retry", async (t) => {
  const out = await scratchState(t);
  let calls = 0;
  await assert.rejects(
    readWhileCommitting(out, async () => {
      calls++;
      throw new StateError(`${out}/model.json: checksum mismatch`);
    }),
    (error: Error) => error.name === "StateError" && /checksum mismatch/.test(error.message),
  );
  assert.equal(calls, 1);
});

test("a folder replaced during every attempt: StateBusyError saying nothing is wrong, after a few attempts", async (t) => {
  const out = await scratchState(t);
  let calls = 0;
  await assert.rejects(
    readWhileCommitting(out, async () => {
      calls++;
      await commit(out, calls);
      throw new StateError(`${out}/model.json is missing (listed in manifest.json)`);
    }),
    (error: Error) => error instanceof StateBusyError && error instanceof StateError && /was replaced by a writer during each of \d+ attempts .*nothing is wrong with it, read it again/.test(error.message),
  );
  assert.ok(calls > 2, `${calls} attempts`);
});

test("damage beside a live writer's .tmp- folder (an update writing meanwhile) is retried, then reported as damage, not busy", async (t) => {
  const out = await scratchState(t);
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
  t.after(async () => {
    sleeper.kill("SIGKILL");
  });
  await new Promise((resolve) => sleeper.once("spawn", resolve));
  const self = currentProcess();
  await mkdir(`${out}.tmp-${writerTag({ pid: sleeper.pid!, hostname: self.hostname, ...(self.bootId === undefined ? {} : { bootId: self.bootId }) })}-0000beef`);
  let calls = 0;
  await assert.rejects(
    readWhileCommitting(out, async () => {
      calls++;
      throw new StateError(`${out}/model.json: checksum mismatch`);
    }),
    (error: Error) => error.name === "StateError" && /checksum mismatch/.test(error.message),
  );
  assert.ok(calls > 1, "retried while a commit may be under way");
});
