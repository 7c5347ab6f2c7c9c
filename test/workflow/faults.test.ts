import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { workflowFolder } from "../helpers/workflow_files.js";
import { readStateFolder } from "../../src/state/read_state.js";
import { Random } from "../../src/random.js";

const CLI = ["--import", "tsx", "src/cli/main.ts"];

function runCli(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 120_000 });
}

function startCli(args: string[]) {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

test("SIGKILL at random moments during update (20 trials): the input state is untouched, the output absent or complete", async () => {
  const dir = await workflowFolder(300);
  try {
    const config = join(dir, "relearn.json");
    const first = runCli(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "v1")]);
    assert.equal(first.status, 0, first.stderr);
    const inputManifest = await readFile(join(dir, "v1", "manifest.json"));
    const args = (out: string) => ["update", "--config", config, "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "v1"), "--output-state", out];
    const started = Date.now();
    const full = startCli(args(join(dir, "timing")));
    assert.equal(await full.exited, 0, full.stderr());
    const duration = Date.now() - started;
    const random = Random.fromSeed(42);
    let complete = 0;
    for (let trial = 0; trial < 20; trial++) {
      const out = join(dir, `out${trial}`);
      const run = startCli(args(out));
      await new Promise((r) => setTimeout(r, random.float() * duration));
      run.child.kill("SIGKILL");
      await run.exited;
      assert.ok((await readFile(join(dir, "v1", "manifest.json"))).equals(inputManifest), `trial ${trial}: input manifest unchanged`);
      assert.ok(await readStateFolder(join(dir, "v1")), `trial ${trial}: input loads`);
      if (existsSync(out)) {
        const state = await readStateFolder(out); // throws on anything incomplete or corrupt
        assert.ok(state, `trial ${trial}: output is a complete state`);
        complete++;
      }
    }
    // a later update over a killed run's leftovers (lock, temporary folders) works
    const after = runCli([...args(join(dir, "out0")), "--overwrite-output-state"]); // out0 may hold a complete state
    assert.equal(after.status, 0, after.stderr);
    assert.ok(complete < 20, "some trials were killed before the output was written");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("two updates writing the same output at once: one wins, the other fails clearly", async () => {
  const dir = await workflowFolder(300);
  try {
    const args = ["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "shared")];
    const a = startCli(args);
    const b = startCli(args);
    const codes = [await a.exited, await b.exited].sort();
    assert.deepEqual(codes, [0, 1], `${a.stderr()}\n${b.stderr()}`);
    // Usually the second finds the first's lock; on a loaded machine its start-up can be slower than the whole first
    // update, and then it finds the state committed. Both are clear refusals, and neither writes (the lock race
    // itself is tested with racing processes in test/state/lock.test.ts).
    assert.match(a.stderr() + b.stderr(), /being written by another update|already holds a state, and this update would replace it/);
    assert.ok(await readStateFolder(join(dir, "shared")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("corrupt states and bad configs exit non-zero with the file named", async () => {
  const dir = await workflowFolder();
  try {
    const config = join(dir, "relearn.json");
    assert.equal(runCli(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "s")]).status, 0);
    const manifest = JSON.parse(await readFile(join(dir, "s", "manifest.json"), "utf8")) as { formatVersion: number; files: Record<string, unknown> };
    // truncated weights
    const weights = join(dir, "s", "model", "weights.bin");
    const bytes = await readFile(weights);
    await writeFile(weights, bytes.subarray(0, bytes.length - 8));
    let r = runCli(["inspect", join(dir, "s")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /model\/weights\.bin/);
    await writeFile(weights, bytes);
    // wrong format version
    await writeFile(join(dir, "s", "manifest.json"), JSON.stringify({ ...manifest, formatVersion: 99 }));
    r = runCli(["evaluate", "--state", join(dir, "s"), "--data", join(dir, "test.csv")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /format/i);
    // a bad config
    await writeFile(join(dir, "bad.json"), JSON.stringify({ updater: "rd" }));
    r = runCli(["update", "--config", join(dir, "bad.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "t")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.json is not a valid relearn config/);
    assert.equal(existsSync(join(dir, "t")), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
