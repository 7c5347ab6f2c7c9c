import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toCsv, workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { writeConfig } from "../../src/workflow/config.js";

const CLI = ["--import", "tsx", "src/cli/main.ts"];
const runCli = (args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 120_000 });

// Issue 10, part 3: SGD at 1e10 on features near 1e18 gave train_loss=NaN every epoch, yet `update` exited 0 and
// wrote a state whose `predict` answered class 0 with NaN probabilities.
test("relearn update whose training diverges exits 1 naming phase, epoch and fixes, and writes nothing (no state, no lock)", async () => {
  const dir = await workflowFolder();
  try {
    const blobs = makeGaussianBlobs({ numClasses: 2, samplesPerClass: 20, dims: 8, seed: 3, sampleSeed: 1 });
    await writeFile(join(dir, "huge.csv"), toCsv({ ...blobs, features: blobs.features.map((v) => v * 1e18) }));
    await writeConfig(join(dir, "sgd.json"), workflowConfig({ optimizer: { name: "sgd", learningRate: 1e10 } }));
    const before = (await readdir(dir)).sort();
    const run = runCli(["update", "--config", join(dir, "sgd.json"), "--data", join(dir, "huge.csv"), "--output-state", join(dir, "v1")]);
    assert.equal(run.status, 1, `exit code 1 (a RelearnError), got ${run.status}: ${run.stderr}`);
    assert.match(run.stderr, /relearn: training diverged: train_loss=NaN in phase "expert" \(task "default_task"\), epoch 1 of 5, learning rate 10000000000\. Nothing was saved\. Likely fixes: a smaller learning rate/);
    assert.equal(existsSync(join(dir, "v1")), false, "no state folder");
    assert.deepEqual((await readdir(dir)).sort(), before, "no lock, no temporary folder left");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
