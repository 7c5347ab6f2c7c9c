/**
 * Trial folders left by a tuning run that was killed outright (tester F-O): `update --tune` killed with SIGKILL
 * leaves `<output>.tune-…/` (a full state per trial), `tune` leaves `<out>/.trials-…/`. The next run of the same
 * output removes those whose process is gone, and says so; those of a live process are left alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { writerTag } from "../../src/state/atomic_folder.js";
import { currentProcess } from "../../src/state/process_identity.js";
import { KEPT_MARKER } from "../../src/tuning/work_dir.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 180_000 });

// A pid far above Linux's pid_max: the run that made a folder named with it is certainly gone.
const DEAD_PID = 99999999;

/** The writer part of a folder name for process `pid` of this host and boot (no start time: judged by the pid). */
function tagOf(pid: number): string {
  const self = currentProcess();
  return writerTag({ pid, hostname: self.hostname, ...(self.bootId === undefined ? {} : { bootId: self.bootId }) });
}

test("a killed update --tune's trial folder is removed by the next update --tune of that output, a live run's is kept; tune's .trials- too", { timeout: 300_000 }, async (t) => {
  const dir = await workflowFolder(12);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, "tune.json");
  await writeFile(config, JSON.stringify({ ...workflowConfig({ maxEpochs: 1, backend: "cpu" }), tuning: { space: { "optimizer.learningRate": { logUniform: [1e-3, 1e-1] } } } }));
  const output = join(dir, "v1");
  const args = ["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--tune", "3", "--output-state", output];

  // Killed (SIGKILL: nothing runs on exit) once its first trial finished: its trial folder stays.
  const run = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    run.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/update --tune: run 1\/3/.test(stderr)) {
        run.kill("SIGKILL");
        resolve();
      }
    });
    run.once("exit", () => reject(new Error(`the run ended before its first trial: ${stderr}`)));
  });
  await new Promise((resolve) => run.once("exit", resolve));
  const killed = (await readdir(dir)).filter((name) => name.startsWith("v1.tune-"));
  assert.equal(killed.length, 1, "the killed run left its trial folder");
  assert.ok((await readdir(join(dir, killed[0]!))).some((name) => name.startsWith("trial-")), "with trial states in it");

  // A run still going (another live process) must keep its folder.
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)"]);
  t.after(() => sleeper.kill("SIGKILL"));
  await new Promise((resolve) => sleeper.once("spawn", resolve));
  const live = `v1.tune-${tagOf(sleeper.pid!)}-0000beef`;
  await mkdir(join(dir, live));

  const next = relearn(args);
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, new RegExp(`update --tune: removed ${join(dir, killed[0]!)}: trial states left by an earlier run that was killed\\n`));
  assert.doesNotMatch(next.stderr, new RegExp(live));
  assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("v1.")), [live]);

  // tune: the same for <out>/.trials-…
  const out = join(dir, "tuning");
  const dead = `.trials-${tagOf(DEAD_PID)}-deadbeef`;
  await mkdir(join(out, dead, "trial-0-rung-0"), { recursive: true });
  // A dead run's folder kept on purpose (tune --queue's Ctrl-C while trials ran on workers, which still write there).
  const keptOnPurpose = `.trials-${tagOf(DEAD_PID)}-0000cafe`;
  await mkdir(join(out, keptOnPurpose, "trial-1-rung-0"), { recursive: true });
  await writeFile(join(out, keptOnPurpose, KEPT_MARKER), "kept\n");
  const tune = relearn(["tune", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--trials", "1", "--out", out]);
  assert.equal(tune.status, 0, tune.stderr);
  assert.match(tune.stderr, new RegExp(`tune: removed ${join(out, dead).replaceAll(".", "\\.")}: trial states left by an earlier run that was killed\\n`));
  assert.match(tune.stderr, new RegExp(`tune: kept ${join(out, keptOnPurpose).replaceAll(".", "\\.")}: an interrupted queued search left it for trials still running on workers; remove it once they finish\\n`));
  assert.deepEqual((await readdir(out)).filter((name) => name.startsWith(".trials-")), [keptOnPurpose]);
});
