// `relearn drift` and `relearn update --drift` on the workflow's class-incremental blob chunks: a chunk of
// new classes drifts from the last one, a file does not drift from itself, and every way of choosing the
// features (all CSV columns, a config's inputs, a state's penultimate layer) says what it compared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DIMS, workflowFolder } from "../helpers/workflow_files.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

interface Report { detector: string; score: number; pValue: number; features: number; on: string; referenceRows: number; dataRows: number }

test("relearn drift: new classes drift (MMD p = 1/(B+1), KS tiny), a file against itself scores 0; text and JSON", async () => {
  const dir = await workflowFolder();
  try {
    const [chunk1, chunk2] = [join(dir, "chunk1.csv"), join(dir, "chunk2.csv")];
    let run = relearn(["drift", "--reference", chunk1, "--data", chunk2, "--permutations", "100"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^relearn drift: mmd on raw features, 9 per row\n/);
    assert.match(run.stdout, /reference: .*chunk1\.csv, 80 rows compared \(CSV, header row: yes/);
    assert.match(run.stdout, /\nscore 0\.9901, p-value 0\.0099 \(MMD\^2 [0-9.e-]+, RBF length scale [0-9.]+, 100 permutations\)\n/);

    // --config: the model's 8 inputs; the label column is dropped.
    run = relearn(["drift", "--reference", chunk1, "--data", chunk2, "--detector", "ks", "--config", join(dir, "relearn.json"), "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const ks = JSON.parse(run.stdout) as Report;
    assert.deepEqual([ks.detector, ks.on, ks.features, ks.referenceRows, ks.dataRows], ["ks", "raw", DIMS, 80, 80]);
    assert.ok(ks.pValue < 1e-6 && ks.score === 1 - ks.pValue, run.stdout);

    run = relearn(["drift", "--reference", chunk1, "--data", chunk1, "--config", join(dir, "relearn.json"), "--json", "--permutations", "50"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as Report).score, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("relearn drift --state: penultimate-layer features of the state's model; update --drift reports the data against the memory", async () => {
  const dir = await workflowFolder();
  try {
    const base = ["update", "--config", join(dir, "relearn.json"), "--epochs", "2", "--drift", "mmd"];
    let run = relearn([...base, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "s1")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\ndrift: not measured: the memory holds 0 item\(s\) \(the first update starts with none\)\n/);
    run = relearn([...base, "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "s1"), "--output-state", join(dir, "s2"), "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { drift: { memoryItems: number; report: Report } };
    assert.equal(summary.drift.memoryItems, 40);
    assert.deepEqual([summary.drift.report.detector, summary.drift.report.features, summary.drift.report.pValue], ["mmd", DIMS, 1 / 1001]);

    run = relearn(["drift", "--reference", join(dir, "chunk1.csv"), "--data", join(dir, "chunk3.csv"), "--state", join(dir, "s2"), "--json", "--permutations", "100"]);
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as Report;
    assert.deepEqual([report.on, report.features, report.pValue], ["penultimate", 16, 1 / 101]); // hidden: [16]
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("update --drift on iCaRL compares the data with its exemplars, which it keeps instead of a replay memory (tester H, H8)", async () => {
  const dir = await workflowFolder();
  try {
    const config = JSON.parse(await readFile(join(dir, "relearn.json"), "utf8")) as { updater: string };
    await writeFile(join(dir, "icarl.json"), JSON.stringify({ ...config, updater: "icarl" }));
    const base = ["update", "--config", join(dir, "icarl.json"), "--epochs", "1", "--drift", "mmd"];
    let run = relearn([...base, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "i1")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\ndrift: not measured: the exemplars hold 0 item\(s\) \(the first update starts with none\)\n/);
    run = relearn([...base, "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "i1"), "--output-state", join(dir, "i2")]);
    assert.equal(run.status, 0, run.stderr);
    const exemplars = /\nexemplars: (\d+)\//.exec(relearn(["inspect", join(dir, "i1")]).stdout)?.[1];
    assert.ok(exemplars !== undefined && Number(exemplars) > 0);
    assert.match(run.stdout, new RegExp(`\\ndrift of the data from the ${exemplars} exemplars kept before this update \\(mmd, raw features\\)`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("relearn drift: clear errors for --state with --config, IDX without a config, a bad detector or count", async () => {
  const dir = await workflowFolder(5);
  try {
    const files = ["--reference", join(dir, "chunk1.csv"), "--data", join(dir, "chunk2.csv")];
    let run = relearn(["drift", ...files, "--state", join(dir, "nowhere"), "--config", join(dir, "relearn.json")]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /give --state or --config, not both/);
    run = relearn(["drift", "--reference", join(dir, "images.idx"), "--data", join(dir, "chunk2.csv")]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /images\.idx: without --config or --state only \.csv files are read; pass --config/);
    run = relearn(["drift", ...files, "--detector", "chi2"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /--detector <name>' argument 'chi2' is invalid. Allowed choices are mmd, ks/);
    run = relearn(["drift", ...files, "--max-samples", "1"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /--max-samples <n>' argument '1' is invalid. expected a whole number >= 2/);
    assert.match(relearn(["drift", "--help"]).stdout, /relearn drift --reference chunk1\.csv --data chunk2\.csv\n/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
