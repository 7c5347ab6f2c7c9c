import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStateFolder } from "../../src/state/read_state.js";

/** Writes version `version` of the state at `out` in a child process, killed at `crashAt` if given. */
function writeInChild(out: string, version: number, crashAt?: string) {
  return spawnSync(process.execPath, ["--import", "tsx", "test/helpers/write_state_child.ts", out, String(version)], {
    encoding: "utf8",
    env: { ...process.env, ...(crashAt === undefined ? {} : { RELEARN_TEST_CRASH_AT: crashAt }) },
  });
}

// Each step of an in-place write (the output is the folder read from) at which a process can die, and the
// state the next reader must find there: the previous one until the second rename, the new one after it.
const crashPoints: [string, number][] = [
  ["before-swap", 1],
  ["between-renames", 1],
  ["after-swap", 2],
];

for (const [point, expected] of crashPoints) {
  test(`an in-place write killed ${point.replace("-", " ")} leaves a state the next run reads and updates without help`, async (t) => {
    const root = await mkdtemp(join(tmpdir(), "relearn-crash-"));
    t.after(() => rm(root, { recursive: true, force: true }));
    const out = join(root, "state");
    assert.equal(writeInChild(out, 1).status, 0);
    const killed = writeInChild(out, 2, point);
    assert.equal(killed.signal, "SIGKILL", `the child died at ${point}: ${killed.stderr}`);
    assert.ok((await readdir(root)).length > 1, "the kill left something behind");

    const state = await readStateFolder(out);
    assert.deepEqual(state?.data, { version: expected });
    const next = writeInChild(out, 3);
    assert.equal(next.status, 0, next.stderr);
    assert.deepEqual((await readStateFolder(out))?.data, { version: 3 });
    assert.deepEqual(await readdir(root), ["state"], "every leftover of the killed write is gone");
  });
}
