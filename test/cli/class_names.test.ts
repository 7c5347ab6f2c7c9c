// A new user's CLI session on a CSV whose labels are names: init, update (the state lists the names, sorted),
// a second update (rows in another order, a subset of the classes: same indices), predict and evaluate speak
// names, and a name the state does not know is an error that writes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { DIMS } from "../helpers/workflow_files.js";

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

// Blob k is named NAMES[k]: not in sorted order, so the state's indices (bird 0, cat 1, dog 2) differ from the blobs'.
const NAMES = ["dog", "cat", "bird"];
const SORTED = ["bird", "cat", "dog"];

function namedCsv(sampleSeed: number, options: { labels?: boolean; keep?: string[]; reverse?: boolean } = {}): { text: string; truth: string[] } {
  const data = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 15, dims: DIMS, seed: 3, sampleSeed });
  let rows = Array.from({ length: data.length }, (_, r) => ({
    features: Array.from(data.features.subarray(r * DIMS, (r + 1) * DIMS), (v) => v.toFixed(5)),
    name: NAMES[data.labels[r]!]!,
  }));
  if (options.keep) rows = rows.filter((row) => options.keep!.includes(row.name));
  if (options.reverse) rows.reverse();
  const labels = options.labels ?? true;
  const header = [...Array.from({ length: DIMS }, (_, i) => `f${i}`), ...(labels ? ["species"] : [])].join(",");
  const text = [header, ...rows.map((row) => [...row.features, ...(labels ? [row.name] : [])].join(","))].join("\n") + "\n";
  return { text, truth: rows.map((row) => row.name) };
}

test("CLI session with string labels: init, update, update, predict and evaluate print class names", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-cli-names-"));
  try {
    const config = join(dir, "relearn.json");
    await writeFile(join(dir, "chunk1.csv"), namedCsv(1).text);
    await writeFile(join(dir, "chunk2.csv"), namedCsv(2, { keep: ["cat", "dog"], reverse: true }).text);
    await writeFile(join(dir, "chunk3.csv"), namedCsv(3).text.replace(/,bird$/m, ",fish"));
    await writeFile(join(dir, "test.csv"), namedCsv(4).text);
    const unlabelled = namedCsv(5, { labels: false });
    await writeFile(join(dir, "new.csv"), unlabelled.text);
    const flags = ["--epochs", "4", "--backend", "wasm", "--seed", "1"];

    let run = relearn(["init", "--config", config, "--input-shape", String(DIMS), "--classes", "3"]);
    assert.equal(run.status, 0, run.stderr);

    run = relearn(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "v1"), ...flags]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /data: .*chunk1\.csv, 45 items \(CSV, header row: yes \(auto: line 1 has names\), label column 9 \("species", index 8\)\), classes bird:15 cat:15 dog:15\n/);
    assert.match(run.stdout, /memory: 45\/500 items \(45 offered\), classes bird:15 cat:15 dog:15\n/);
    // inspect names the memory's classes as update does (tester G, F7).
    run = relearn(["inspect", join(dir, "v1")]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /memory: 45\/500 items \(45 offered, reservoir\), classes bird:15 cat:15 dog:15\n/);
    const manifest = JSON.parse(await readFile(join(dir, "v1", "manifest.json"), "utf8")) as { data: { data: { classNames?: string[] } } };
    assert.deepEqual(manifest.data.data.classNames, SORTED);

    // Rows reversed, bird absent: the state's list decides the indices, not this file.
    run = relearn(["update", "--config", config, "--data", join(dir, "chunk2.csv"), "--input-state", join(dir, "v1"), "--output-state", join(dir, "v2"), ...flags, "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { data: { classHistogram: number[]; classNames: string[] }; memory: { classHistogram: number[] } };
    assert.deepEqual(summary.data.classNames, SORTED);
    assert.deepEqual(summary.data.classHistogram, [0, 15, 15]);

    // A name the state does not know: an error naming it and the classes; nothing written.
    run = relearn(["update", "--config", config, "--data", join(dir, "chunk3.csv"), "--input-state", join(dir, "v2"), "--output-state", join(dir, "v3"), ...flags]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /chunk3\.csv: line \d+, column 9 \("species"\): label "fish" is not one of the 3 classes \("bird", "cat", "dog"\)/);
    assert.match(run.stderr, /"options\.growClasses": true in the config \(CLI --grow-classes\)/);
    assert.equal(existsSync(join(dir, "v3")), false);

    // Allowed to grow: "fish" is added after the state's names (index 3), and the output layer grows to 4.
    run = relearn(["update", "--config", config, "--data", join(dir, "chunk3.csv"), "--input-state", join(dir, "v2"), "--output-state", join(dir, "v3"), ...flags, "--grow-classes"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /classes bird:14 cat:15 dog:15 fish:1\n/);
    assert.match(run.stdout, /classes: the output layer grew from 3 to 4 classes/);
    const grown = JSON.parse(await readFile(join(dir, "v3", "manifest.json"), "utf8")) as { data: { data: { classNames?: string[] } } };
    assert.deepEqual(grown.data.data.classNames, [...SORTED, "fish"]);
    run = relearn(["predict", "--state", join(dir, "v3"), "--data", join(dir, "new.csv"), "--backend", "wasm"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.split("\n")[0], "index,prediction,class,p_0,p_1,p_2,p_3");

    // v1 trained on every class: its names must be the rows' true names (a wrong mapping would swap them).
    run = relearn(["predict", "--state", join(dir, "v1"), "--data", join(dir, "new.csv"), "--backend", "wasm"]);
    assert.equal(run.status, 0, run.stderr);
    const [header, ...rows] = run.stdout.trim().split("\n");
    assert.equal(header, "index,prediction,class,p_0,p_1,p_2");
    assert.equal(rows.length, 45);
    const predicted = rows.map((row) => row.split(","));
    for (const fields of predicted) assert.equal(fields[2], SORTED[Number(fields[1])]);
    const correct = predicted.filter((fields, i) => fields[2] === unlabelled.truth[i]).length;
    assert.ok(correct >= 40, `${correct}/45 predicted names match the truth`);

    // A labelled file to predict on: its name labels are dropped unread.
    run = relearn(["predict", "--state", join(dir, "v2"), "--data", join(dir, "test.csv"), "--format", "jsonl", "--backend", "wasm"]);
    assert.equal(run.status, 0, run.stderr);
    const first = JSON.parse(run.stdout.split("\n")[0]!) as { prediction: number; class: string };
    assert.equal(first.class, SORTED[first.prediction]);

    run = relearn(["evaluate", "--state", join(dir, "v2"), "--data", join(dir, "test.csv"), "--backend", "wasm"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /per-class accuracy:\n {2}class 0 \(bird\): \d\.\d{4}\n {2}class 1 \(cat\): \d\.\d{4}\n {2}class 2 \(dog\): \d\.\d{4}\n/);
    assert.match(run.stdout, /confusion matrix \(rows: label, columns: prediction\):\n {2}\s+\| {2}bird {3}cat {3}dog\n {2}0 bird \|[ \d]+\n {3}1 cat \|[ \d]+\n {3}2 dog \|[ \d]+\n/);

    run = relearn(["evaluate", "--state", join(dir, "v2"), "--data", join(dir, "test.csv"), "--backend", "wasm", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const evaluation = JSON.parse(run.stdout) as { classNames: string[]; confusionMatrix: number[][] };
    assert.deepEqual(evaluation.classNames, SORTED);
    assert.deepEqual(evaluation.confusionMatrix.map((row) => row.reduce((a, b) => a + b, 0)), [15, 15, 15]);

    // For serving: the model with a softmax at the end, the class names in its metadata.
    run = relearn(["export-model", "--state", join(dir, "v2"), "--out", join(dir, "serving"), "--probabilities"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `wrote ${join(dir, "serving")}/model.json and weights.bin: input [N, ${DIMS}], output probabilities [N, 3] per head (bird, cat, dog)\n`);
    const exported = JSON.parse(await readFile(join(dir, "serving", "model.json"), "utf8")) as { userDefinedMetadata: unknown };
    assert.deepEqual(exported.userDefinedMetadata, { relearnExport: { outputs: "probabilities", taskIds: ["default_task"], classNames: SORTED } });

    // A config naming the classes in another order cannot relabel the state's classes.
    const reordered = join(dir, "reordered.json");
    await writeFile(reordered, JSON.stringify({ ...JSON.parse(await readFile(config, "utf8")), data: { classNames: ["cat", "bird", "dog"] } }));
    run = relearn(["evaluate", "--state", join(dir, "v2"), "--data", join(dir, "test.csv"), "--config", reordered]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /the config's "data\.classNames" names class 0 "cat", but the state has "bird" as class 0/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("init --class-names writes the names in the user's order, the update keeps that order, and bad lists are errors", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-cli-init-names-"));
  try {
    const config = join(dir, "relearn.json");
    await writeFile(join(dir, "chunk1.csv"), namedCsv(1).text);
    let run = relearn(["init", "--config", config, "--input-shape", String(DIMS), "--class-names", NAMES.join(","), "--model", "mlp:16"]);
    assert.equal(run.status, 0, run.stderr);
    const written = JSON.parse(await readFile(config, "utf8")) as { model: { classes: number }; data: { classNames?: string[] } };
    assert.deepEqual(written.data.classNames, NAMES);
    assert.equal(written.model.classes, NAMES.length);

    // The config's order decides the indices (dog 0, cat 1, bird 2), not sorting.
    run = relearn(["update", "--config", config, "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "v1"), "--epochs", "1", "--backend", "wasm", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as { data: { classNames: string[] } }).data.classNames, NAMES);

    for (const [flags, message] of [
      [["--class-names", "a,b,c", "--classes", "4"], /--classes 4 disagrees with --class-names, which names 3 classes/],
      [["--class-names", "a,,b"], /expected names separated by commas/],
      [["--class-names", "a,b,a"], /class name "a" appears twice/],
    ] as const) {
      run = relearn(["init", "--json", "--input-shape", String(DIMS), ...flags]);
      assert.equal(run.status, 1, `${flags.join(" ")}: ${run.stdout}`);
      assert.match(run.stderr, message);
    }
    // Agreeing counts are fine.
    run = relearn(["init", "--json", "--input-shape", String(DIMS), "--class-names", "a,b,c", "--classes", "3"]);
    assert.equal(run.status, 0, run.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
