import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DIMS, toCsv, workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { parseTrialsCsv } from "../../src/tuning/trials_table.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("relearn tune writes trials.csv, best.json and best-config.json, with progress on stderr; update --tune N keeps the best", async () => {
  const dir = await workflowFolder(12);
  try {
    const config = join(dir, "tune.json");
    await writeFile(config, JSON.stringify({ $schema: "./relearn.schema.json", ...workflowConfig({ maxEpochs: 1 }), tuning: { space: { "optimizer.learningRate": { logUniform: [1e-3, 1e-1] } } } }));
    const out = join(dir, "tuning");
    const tune = relearn(["tune", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--trials", "2", "--out", out]);
    assert.equal(tune.status, 0, tune.stderr);
    assert.match(tune.stderr, /tune: run 1\/2: trial 0, 1 epochs, .* val_accuracy \d\.\d{4} .* \| best \d\.\d{4} \(trial 0, 1 epochs\)/);
    assert.match(tune.stderr, /tune: run 2\/2/);
    assert.match(tune.stdout, /relearn tune: random search over the config's tuning\.space, 2 runs \(2 ok\), val_accuracy \(max\)/);
    const rows = parseTrialsCsv(await readFile(join(out, "trials.csv"), "utf8"), "trials.csv");
    assert.equal(rows.length, 2);
    const best = JSON.parse(await readFile(join(out, "best.json"), "utf8"));
    assert.equal(best.value, Math.max(...rows.map((r) => Number(r["value"]))));
    const bestConfig = JSON.parse(await readFile(join(out, "best-config.json"), "utf8"));
    assert.equal(bestConfig.options.optimizer.learningRate, best.params["optimizer.learningRate"]);
    assert.equal(bestConfig.$schema, undefined, "no $schema path, which was relative to the config file, not to --out");

    const bad = relearn(["tune", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--scheduler", "grid", "--trials", "2", "--out", out]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /grid search runs every point of its grid, 3 here \(optimizer\.learningRate: 3\); asked for 2 trials/);

    const update = relearn(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--tune", "2", "--output-state", join(dir, "v1")]);
    assert.equal(update.status, 0, update.stderr);
    assert.match(update.stderr, /update --tune: run 2\/2/);
    assert.match(update.stdout, /tuning: random search over the config's tuning\.space, 2 runs \(0 failed\); no earlier setting tried first: the input state has no tuning history/);
    assert.match(update.stdout, /history: 2 rows in .*v1\/tuning\/history\.csv/);
    assert.match(update.stdout, /relearn update: rd on wasm, update 1 written to .*v1/);
    const noVal = relearn(["update", "--config", config, "--data", join(dir, "chunk2.csv"), "--tune", "2", "--input-state", join(dir, "v1"), "--output-state", join(dir, "v2")]);
    assert.equal(noVal.status, 1);
    assert.match(noVal.stderr, /update --tune judges each trial on validation data: give --val/);

    // Without --config, tune takes the input state's recorded config (its tuning space included), as update does.
    const out2 = join(dir, "tuning2");
    const fromState = relearn(["tune", "--data", join(dir, "chunk2.csv"), "--val", join(dir, "test.csv"), "--input-state", join(dir, "v1"), "--trials", "2", "--out", out2]);
    assert.equal(fromState.status, 0, fromState.stderr);
    const rows2 = parseTrialsCsv(await readFile(join(out2, "trials.csv"), "utf8"), "trials.csv");
    assert.equal(rows2.length, 2);
    assert.ok(rows2.every((r) => Number(r["param:optimizer.learningRate"]) >= 1e-3 && Number(r["param:optimizer.learningRate"]) <= 1e-1), "trials drawn from the recorded space");
    const bestConfig2 = JSON.parse(await readFile(join(out2, "best-config.json"), "utf8"));
    assert.equal(bestConfig2.updater, "rd");
    const fresh = relearn(["tune", "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--trials", "2", "--out", join(dir, "tuning3")]);
    assert.equal(fresh.status, 1);
    assert.match(fresh.stderr, /a fresh start \(no input state\) needs --config/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("tune and update --tune refuse a real-valued domain on a whole-number option before any trial, naming the entry (tester F-A)", async () => {
  const dir = await workflowFolder(12);
  try {
    const config = join(dir, "tune.json");
    await writeFile(config, JSON.stringify({ ...workflowConfig({ maxEpochs: 1 }), tuning: { space: { batchSize: { uniform: [8, 64] } } } }));
    const out = join(dir, "tuning");
    const tune = relearn(["tune", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--trials", "2", "--out", out]);
    assert.equal(tune.status, 1, tune.stderr);
    assert.match(tune.stderr, /^relearn: tuning\.space\.batchSize: \{"uniform": \[8, 64\]\} draws real numbers .* use \{"int": \[8, 64\]\}/);
    assert.doesNotMatch(tune.stderr, /run \d/);
    assert.equal(existsSync(out), false, "--out not created for a search that cannot run");
    const update = relearn(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--val", join(dir, "test.csv"), "--tune", "2", "--output-state", join(dir, "v1")]);
    assert.equal(update.status, 1, update.stderr);
    assert.match(update.stderr, /^relearn: tuning\.space\.batchSize: .*use \{"int": \[8, 64\]\}/);
    assert.doesNotMatch(update.stderr, /run \d/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("relearn tune whose every trial diverges exits 1 and still writes trials.csv with each trial's setting and error (no best files)", async () => {
  const dir = await workflowFolder(12);
  try {
    const blobs = makeGaussianBlobs({ numClasses: 2, samplesPerClass: 20, dims: DIMS, seed: 3, sampleSeed: 1 });
    await writeFile(join(dir, "huge.csv"), toCsv({ ...blobs, features: blobs.features.map((v) => v * 1e18) }));
    const config = join(dir, "tune.json");
    await writeFile(config, JSON.stringify({ ...workflowConfig({ maxEpochs: 1, optimizer: { name: "sgd", learningRate: 1 } }), tuning: { space: { "optimizer.learningRate": { choice: [1e9, 1e10] } } } }));
    const out = join(dir, "tuning");
    const tune = relearn(["tune", "--config", config, "--data", join(dir, "huge.csv"), "--val", join(dir, "test.csv"), "--scheduler", "grid", "--out", out]);
    assert.equal(tune.status, 1, tune.stderr);
    assert.match(tune.stderr, new RegExp(`every one of the 2 trials failed \\(trial 0: training diverged[^\\n]*; each trial's setting and error: ${join(out, "trials.csv")}`));
    assert.equal(tune.stderr.match(/Likely fixes/g)?.length, 1, "one trial's error in full, not each one's");
    const rows = parseTrialsCsv(await readFile(join(out, "trials.csv"), "utf8"), "trials.csv");
    assert.deepEqual(rows.map((r) => [r["status"], r["chosen"], r["param:optimizer.learningRate"]]), [["failed", "0", "1000000000"], ["failed", "0", "10000000000"]]);
    for (const row of rows) assert.match(row["error"]!, /training diverged/);
    assert.equal(existsSync(join(out, "best.json")), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
