import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { workflowFolder } from "../helpers/workflow_files.js";
import { editManifestSealed } from "../helpers/state_edits.js";
import { readConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { inspectState } from "../../src/workflow/inspect_state.js";

const CLI = ["--import", "tsx", "src/cli/main.ts"];

function runCli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });
}

test("update --input-state with a mistyped or empty folder exits 1 saying so, and writes nothing", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, "empty"));
  const update = (input: string) =>
    runCli(["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--input-state", input, "--output-state", join(dir, "out")]);
  let r = update(join(dir, "state", "v22"));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /the input state folder .*v22 does not exist; check the path, or leave out inputStateFolder \(--input-state\)/);
  r = update(join(dir, "empty"));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /empty is an empty folder, not a state folder/);
  assert.equal(existsSync(join(dir, "out")), false);
});

test("update without --input-state onto an existing state exits 1 unless --overwrite-output-state", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const args = ["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "s"), "--epochs", "1"];
  assert.equal(runCli(args).status, 0);
  const manifest = await readFile(join(dir, "s", "manifest.json"));
  const refused = runCli(args);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /already holds a state.*--overwrite-output-state/s);
  assert.deepEqual(await readFile(join(dir, "s", "manifest.json")), manifest);
  const allowed = runCli([...args, "--overwrite-output-state", "--seed", "5"]);
  assert.equal(allowed.status, 0, allowed.stderr);
  assert.notDeepEqual(await readFile(join(dir, "s", "manifest.json")), manifest);
});

/** Starts an update, waits until it holds the output's lock (it is training), sends `signal`, returns exit code and stderr. */
async function interrupt(args: string[], lock: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!existsSync(lock) && Date.now() < deadline) await sleep(25);
  assert.ok(existsSync(lock), `the update took its lock: ${stderr}`);
  await sleep(300);
  child.kill(signal);
  return { code: await exited, stderr };
}

test("Ctrl-C (SIGINT) or SIGTERM during an update: 'nothing written' on stderr, exit 130/143, no lock or temporary folder left", async (t) => {
  const dir = await workflowFolder(300);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const before = (await readdir(dir)).sort();
  const update = (input: string[], out: string) =>
    ["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), ...input, "--output-state", join(dir, out), "--epochs", "500"];
  // a fresh output
  let r = await interrupt(update([], "fresh"), join(dir, "fresh.lock"), "SIGINT");
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted \(SIGINT\), nothing written: .*fresh is unchanged/);
  assert.doesNotMatch(r.stderr, /epoch 500\/500/, "stopped at once, not after training to the end");
  assert.deepEqual((await readdir(dir)).sort(), before, "no output, lock or temporary folder");
  // an in-place update: the state is left as it was
  assert.equal(runCli(update([], "s").map((a) => (a === "500" ? "1" : a))).status, 0);
  const manifest = await readFile(join(dir, "s", "manifest.json"));
  r = await interrupt(update(["--input-state", join(dir, "s")], "s"), join(dir, "s.lock"), "SIGTERM");
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /interrupted \(SIGTERM\), nothing written/);
  assert.doesNotMatch(r.stderr, /epoch 500\/500/);
  assert.deepEqual(await readFile(join(dir, "s", "manifest.json")), manifest);
  assert.deepEqual((await readdir(dir)).sort(), [...before, "s"].sort());
});

test("an in-place update killed between its two renames: the next in-place update recovers and exits 0", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const s = join(dir, "s");
  const update = (input: string[]) => ["update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), ...input, "--output-state", s, "--epochs", "1"];
  assert.equal(runCli(update([])).status, 0);
  const killed = runCli(update(["--input-state", s]), { RELEARN_TEST_CRASH_AT: "between-renames" });
  assert.equal(killed.signal, "SIGKILL");
  assert.equal(existsSync(s), false, "killed with the state moved aside");
  const next = runCli(update(["--input-state", s]));
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, /recovered the last committed state/);
  assert.equal((await inspectState(s)).updatesDone, 2, "update 1, then this one; the killed one never committed");
  assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("s")), ["s"]);
});

test("inspect and evaluate refuse an edited manifest, an unknown kind, an unlisted file, naming the file", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = await readConfig(join(dir, "relearn.json"));
  const s = join(dir, "s");
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: s });
  const path = join(s, "manifest.json");
  const original = await readFile(path, "utf8");
  const both = (pattern: RegExp, what: string) => {
    for (const args of [["inspect", s], ["evaluate", "--state", s, "--data", join(dir, "test.csv")]]) {
      const r = runCli(args);
      assert.equal(r.status, 1, `${args[0]} of ${what}: ${r.stdout}`);
      assert.match(r.stderr, pattern, `${args[0]} of ${what}`);
    }
  };
  await writeFile(path, original.replace(/"seen": (\d+)/, (_m, n: string) => `"seen": ${Number(n) + 400}`));
  both(/manifest\.json: checksum mismatch/, "a hand-edited counter");
  await writeFile(path, original);
  await editManifestSealed(s, (m) => void (m.data.options.batchSize = "abc"));
  both(/manifest\.json is not a valid repeated-distillation state: field "data\.options\.batchSize"/, "an invalid option");
  await writeFile(path, original);
  await editManifestSealed(s, (m) => void (m.data.options.memorySize = 20));
  both(/field "data\.options\.memorySize": is 20 but the stored memory/, "a memorySize the memory does not have");
  await writeFile(path, original);
  await editManifestSealed(s, (m) => void (m.kind = "other"));
  both(/manifest\.json is a state of kind "other", which no relearn updater writes/, "an unknown kind");
  await writeFile(path, original);
  await writeFile(join(s, "notes.txt"), "mine");
  both(/notes\.txt is not listed in .*manifest\.json/, "an unlisted file");
});
