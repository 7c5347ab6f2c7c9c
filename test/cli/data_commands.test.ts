// The CSV header setting through the command line: init writes it, --header sets it for update, evaluate
// and predict, the state remembers it, and every command says how it read the file (rows, header, label column).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { writeConfig } from "../../src/workflow/config.js";
import { DIMS, workflowConfig } from "../helpers/workflow_files.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

/** Blobs as CSV under the header 1,2,...: numbered columns that "auto" cannot tell from data. */
function csv(samplesPerClass: number, sampleSeed: number, { header, labels }: { header: boolean; labels: boolean }): string {
  const data = makeGaussianBlobs({ numClasses: 6, samplesPerClass, dims: DIMS, seed: 3, sampleSeed });
  const columns = DIMS + (labels ? 1 : 0);
  const rows = Array.from({ length: data.length }, (_, r) =>
    [...Array.from(data.features.subarray(r * DIMS, (r + 1) * DIMS), (v) => v.toFixed(5)), ...(labels ? [data.labels[r]] : [])].join(","),
  );
  return [...(header ? [Array.from({ length: columns }, (_, i) => i + 1).join(",")] : []), ...rows].join("\n") + "\n";
}

test("init writes data.header (auto, or --header); a bad value is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-cli-header-"));
  try {
    let run = relearn(["init", "--config", join(dir, "a.json"), "--input-shape", "8", "--classes", "6"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(await readFile(join(dir, "a.json"), "utf8")) as { data: unknown }).data, { header: "auto", layout: "flat" });
    run = relearn(["init", "--config", join(dir, "b.json"), "--header", "true"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(await readFile(join(dir, "b.json"), "utf8")) as { data: unknown }).data, { header: true, layout: "flat" });
    run = relearn(["init", "--config", join(dir, "c.json"), "--header", "yes"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /--header.*expected true, false or auto, got "yes"/);
    for (const command of ["update", "evaluate", "predict", "init"]) {
      assert.match(relearn([command, "--help"]).stdout.replace(/\s+/g, " "), /--header <mode> whether line 1 of a CSV file is a header row: true, false or auto \(a header when a field is not a number, or when it is 0,1,...,n-1 as pandas writes unnamed columns; an error when it could be either\)/, command);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("update --header true, then evaluate and predict on the state: the state's setting applies, and each says how it read the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-cli-header-"));
  try {
    const config = join(dir, "relearn.json");
    await writeConfig(config, workflowConfig({ maxEpochs: 1 }));
    await writeFile(join(dir, "train.csv"), csv(10, 1, { header: true, labels: true }));
    await writeFile(join(dir, "test.csv"), csv(3, 2, { header: true, labels: true }));
    await writeFile(join(dir, "new.csv"), csv(3, 2, { header: false, labels: false }));
    const update = ["update", "--config", config, "--data", join(dir, "train.csv"), "--output-state", join(dir, "v1")];

    // "auto" (the config's) cannot tell 1,2,...,9 from data: an error, nothing written.
    let run = relearn(update);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /train\.csv: line 1 \(1,2,3,4,5,6,7,8,\.\.\.\) could be a header of numbered columns or a row of data: set header true/);

    run = relearn([...update, "--header", "true"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`data: ${join(dir, "train.csv")}, 60 items \\(CSV, header row: yes \\(as set\\), label column 9 \\("9", index 8\\)\\), classes 0:10 1:10`));

    run = relearn(["evaluate", "--state", join(dir, "v1"), "--data", join(dir, "test.csv")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /test\.csv: 18 items \(CSV, header row: yes \(auto: line 1 is whole numbers, the training file's column names\), label column 9 \("9", index 8\)\), accuracy/);

    // The tester's case: no header in the new file, none given: every row is a sample.
    run = relearn(["predict", "--state", join(dir, "v1"), "--data", join(dir, "new.csv")]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim().split("\n").length, 1 + 18);
    assert.match(run.stderr, /relearn predict: .*new\.csv: 18 rows \(CSV, header row: no \(auto: line 1 is data\)\)/);

    run = relearn(["predict", "--state", join(dir, "v1"), "--data", join(dir, "new.csv"), "--header", "false"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim().split("\n").length, 1 + 18);
    assert.match(run.stderr, /relearn predict: .*new\.csv: 18 rows \(CSV, header row: no \(as set\)\)/);

    run = relearn([...update.slice(0, -1), join(dir, "v2"), "--header", "true", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { data: { items: number; read: unknown } };
    assert.deepEqual(summary.data.read, { file: join(dir, "train.csv"), format: "csv", rows: 60, header: true, headerRule: "setting", labelColumn: { index: 8, name: "9" }, delimiter: ",", delimiterRule: "detected",
      featureNames: ["1", "2", "3", "4", "5", "6", "7", "8"],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("--label-column on evaluate and update: a file whose label column has another name than the training file's is refused, then read with the flag", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-cli-label-column-"));
  try {
    const config = join(dir, "relearn.json");
    await writeConfig(config, workflowConfig({ maxEpochs: 1 }));
    const renamed = (text: string, name: string) => text.replace(/^(.*),9\n/, `$1,${name}\n`);
    await writeFile(join(dir, "train.csv"), csv(10, 1, { header: true, labels: true }));
    await writeFile(join(dir, "test.csv"), renamed(csv(3, 2, { header: true, labels: true }), "target"));
    await writeFile(join(dir, "more.csv"), renamed(csv(10, 3, { header: true, labels: true }), "target"));
    let run = relearn(["update", "--config", config, "--data", join(dir, "train.csv"), "--output-state", join(dir, "v1"), "--header", "true"]);
    assert.equal(run.status, 0, run.stderr);

    run = relearn(["evaluate", "--state", join(dir, "v1"), "--data", join(dir, "test.csv")]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /the header has no column "9", the training file's label column; .* column 9 \("target", index 8\): if it holds the labels, pass --label-column "target"/);
    run = relearn(["evaluate", "--state", join(dir, "v1"), "--data", join(dir, "test.csv"), "--label-column", "target"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /test\.csv: 18 items \(CSV, header row: yes .*label column 9 \("target", index 8\)\), accuracy/);

    // predict drops that column unread, and says so.
    run = relearn(["predict", "--state", join(dir, "v1"), "--data", join(dir, "test.csv")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /relearn predict: .*test\.csv: 18 rows \(CSV, header row: yes .*label column 9 \("target", index 8\) \(not read\)\)/);

    const update = ["update", "--config", config, "--data", join(dir, "more.csv"), "--input-state", join(dir, "v1"), "--output-state", join(dir, "v2")];
    run = relearn(update);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /pass --label-column "target"/);
    run = relearn([...update, "--label-column", "target"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /more\.csv, 60 items \(CSV, .*label column 9 \("target", index 8\)\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
