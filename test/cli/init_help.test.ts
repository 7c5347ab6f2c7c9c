// `relearn init` fits the user's data (model, classes, label column, input shape), every command's --help marks
// its required options and shows examples that work, and `relearn --version`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { encodeIdx } from "../../src/data/idx.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import type { Dataset } from "../../src/data/dataset.js";

const MAIN = resolve("src/cli/main.ts");
const TSX = fileURLToPath(import.meta.resolve("tsx"));
const relearn = (args: string[], cwd = process.cwd()) =>
  spawnSync(process.execPath, ["--import", TSX, MAIN, ...args], { encoding: "utf8", timeout: 300_000, cwd });

const COMMANDS = ["init", "update", "evaluate", "predict", "inspect", "export-state", "import-state", "benchmark"];

function csv(data: Dataset, labels = true): string {
  const dims = data.featureShape[0]!;
  const header = [...Array.from({ length: dims }, (_, i) => `f${i}`), ...(labels ? ["label"] : [])].join(",");
  const rows = Array.from({ length: data.length }, (_, r) =>
    [...Array.from(data.features.subarray(r * dims, (r + 1) * dims), (v) => v.toFixed(4)), ...(labels ? [data.labels[r]] : [])].join(","),
  );
  return [header, ...rows].join("\n") + "\n";
}

/** 28x28 IDX images (gzip'd) and their labels, 10 classes. */
async function writeImages(dir: string, n: number): Promise<void> {
  const pixels = Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 31 + (i >> 7)) % 256);
  await writeFile(join(dir, "images.idx.gz"), gzipSync(encodeIdx([n, 28, 28], pixels)));
  await writeFile(join(dir, "labels.idx.gz"), gzipSync(encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10))));
}

test("init --model/--classes/--input-shape/--label-column write the model and data settings; bad values are refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-init-"));
  try {
    const read = async (name: string) => JSON.parse(await readFile(join(dir, name), "utf8")) as { model: Record<string, unknown>; data: Record<string, unknown> };
    let run = relearn(["init", "--config", join(dir, "a.json"), "--model", "mlp:64,32", "--classes", "3", "--input-shape", "8", "--label-column", "species"]);
    assert.equal(run.status, 0, run.stderr);
    let config = await read("a.json");
    assert.deepEqual(config.model, { type: "mlp", inputShape: [8], hidden: [64, 32], classes: 3 });
    assert.deepEqual(config.data, { header: "auto", labelColumn: "species", layout: "flat" });
    run = relearn(["init", "--config", join(dir, "b.json"), "--model", "cnn", "--input-shape", "28,28,1", "--label-column", "0", "--delimiter", "tab", "--data-format", "csv"]);
    assert.equal(run.status, 0, run.stderr);
    config = await read("b.json");
    assert.deepEqual(config.model, {
      type: "cnn", inputShape: [28, 28, 1], conv: [{ filters: 32, kernelSize: 3, pool: true }, { filters: 64, kernelSize: 3, pool: true }], dense: [128], classes: 10,
    });
    assert.deepEqual(config.data, { format: "csv", header: "auto", delimiter: "\t", labelColumn: 0, layout: "hwc" });
    // A JSON ModelSpec file, as benchmark --model takes it.
    await writeFile(join(dir, "spec.json"), JSON.stringify({ type: "mlp", inputShape: [5], hidden: [7], classes: 4 }));
    run = relearn(["init", "--config", join(dir, "c.json"), "--model", join(dir, "spec.json")]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((await read("c.json")).model, { type: "mlp", inputShape: [5], hidden: [7], classes: 4 });
    for (const [args, message] of [
      [["--model", "cnn", "--input-shape", "784"], /--model cnn: a cnn needs a \[height, width, channels\] input shape \(e\.g\. --input-shape 28,28,1\), got \[784\]/],
      [["--model", "mlp:64,x"], /--model mlp:64,x: "x" is not a positive integer/],
      [["--model", "resnet"], /--model resnet: not mlp\[:widths\], cnn\[:filters\] or a readable JSON ModelSpec file/],
      [["--input-shape", "28,x"], /--input-shape.*expected positive integers separated by commas/],
      [["--classes", "0"], /--classes.*expected a positive integer, got "0"/],
      [["--delimiter", ";;"], /--delimiter.*expected one character/],
      [["--data-format", "xlsx"], /--data-format.*Allowed choices are auto, csv, idx/],
    ] as const) {
      run = relearn(["init", "--config", join(dir, "bad.json"), ...args]);
      assert.equal(run.status, 1, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.ok(!existsSync(join(dir, "bad.json")));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("init --json prints the config and writes no file (neither the config nor the schema)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-init-"));
  try {
    const run = relearn(["init", "--config", join(dir, "relearn.json"), "--input-shape", "8", "--classes", "3", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as { model: unknown }).model, { type: "mlp", inputShape: [8], hidden: [256, 256], classes: 3 });
    assert.ok(!existsSync(join(dir, "relearn.json")));
    assert.ok(!existsSync(join(dir, "relearn.schema.json")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("init --input-shape 28,28,1: the first update on 28x28 IDX images works (MLP and CNN), and 784-column CSV rows fit it too", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-init-"));
  try {
    await writeImages(dir, 20);
    const data = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 4, dims: 784, seed: 1, sampleSeed: 1 });
    await writeFile(join(dir, "pixels.csv"), csv(data));
    // The default model first (init's own help example before this fix: "samples have shape [784] but the model takes [28,28,1]").
    for (const [name, model] of [["mlp.json", []], ["cnn.json", ["--model", "cnn:4"]]] as const) {
      let run = relearn(["init", "--config", join(dir, name), "--input-shape", "28,28,1", ...model]);
      assert.equal(run.status, 0, run.stderr);
      run = relearn(["update", "--config", join(dir, name), "--data", join(dir, "images.idx.gz"), "--labels", join(dir, "labels.idx.gz"), "--output-state", join(dir, `state-${name}`), "--epochs", "1"]);
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      assert.match(run.stdout, /data: .*images\.idx\.gz, 20 items \(IDX\)/);
      run = relearn(["update", "--config", join(dir, name), "--data", join(dir, "pixels.csv"), "--output-state", join(dir, `csv-${name}`), "--epochs", "1"]);
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("relearn --version prints package.json's version; every command's --help marks its required options and shows an example", () => {
  const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
  for (const flag of ["--version", "-V"]) {
    const run = relearn([flag]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  }
  const required: Record<string, string[]> = {
    init: [],
    update: ["--data <file>", "--output-state <dir>"], // --config: or the input state's recorded config
    evaluate: ["--state <dir>", "--data <file>"],
    predict: ["--state <dir>", "--data <file>"],
    inspect: [],
    "export-state": ["--out <file.zip>"],
    "import-state": ["--out <state-folder>"],
    benchmark: [],
  };
  const helps = Object.fromEntries(COMMANDS.map((command) => [command, relearn([command, "--help"]).stdout]));
  for (const command of COMMANDS) {
    const help = helps[command]!;
    const marked = [...help.matchAll(/^ {2}(-[^\n]*?\S) {2,}\(required\)/gm)].map((match) => match[1]!.trim());
    assert.deepEqual(marked, required[command], command);
    assert.match(help, /\nExamples?:\n {2}relearn /, command);
  }
  // Each command's own --labels text; --dataset auto explained.
  const evaluate = helps["evaluate"]!.replace(/\s+/g, " ");
  const predict = helps["predict"]!.replace(/\s+/g, " ");
  assert.match(evaluate, /--labels <file> the IDX labels file of --data, required when --data is IDX images/);
  assert.match(predict, /--labels <file> not needed: predict reads IDX images without labels/);
  assert.match(helps["benchmark"]!.replace(/\s+/g, " "), /auto \(the full set when installed, else the bundled subset\)/);
});

test("every example in every command's --help runs as written (in a folder holding the files they name)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-help-examples-"));
  try {
    const blobs = (samplesPerClass: number, sampleSeed: number) => makeGaussianBlobs({ numClasses: 3, samplesPerClass, dims: 8, seed: 2, sampleSeed });
    const chunk = (classes: number[], seed: number) => {
      const all = blobs(8, seed);
      const keep = Array.from({ length: all.length }, (_, i) => i).filter((i) => classes.includes(all.labels[i]!));
      return { ...all, features: Float32Array.from(keep.flatMap((i) => Array.from(all.features.subarray(i * 8, i * 8 + 8)))), labels: Int32Array.from(keep.map((i) => all.labels[i]!)), length: keep.length };
    };
    await writeFile(join(dir, "chunk1.csv"), csv(chunk([0, 1], 1)));
    await writeFile(join(dir, "chunk2.csv"), csv(chunk([2], 2)));
    await writeFile(join(dir, "chunk3.csv"), csv(chunk([0, 2], 7)));
    await writeFile(join(dir, "val2.csv"), csv(blobs(3, 3)));
    await writeFile(join(dir, "test.csv"), csv(blobs(4, 4)));
    await writeFile(join(dir, "train.csv"), csv(blobs(10, 5)));
    await writeFile(join(dir, "new.csv"), csv(blobs(2, 6), false));
    await writeImages(dir, 20);
    // Long runs on the full Fashion-MNIST and the Letter benchmark (minutes to hours) are left out; everything else runs.
    const tooLong = (line: string) => /--dataset (fashion-mnist|letter)/.test(line);
    let ran = 0;
    for (const command of COMMANDS) {
      const help = relearn([command, "--help"]).stdout;
      const examples = [...help.matchAll(/^ {2}relearn (.+?)(?:\s+#.*)?$/gm)].map((match) => match[1]!);
      assert.ok(examples.length > 0, command);
      for (const example of examples) {
        if (tooLong(example)) continue;
        const run = relearn(example.split(/\s+/), dir);
        assert.equal(run.status, 0, `relearn ${example}\n${run.stderr}`);
        ran++;
      }
    }
    assert.ok(ran >= 12, `ran ${ran} examples`);
    assert.ok(existsSync(join(dir, "predictions.jsonl")) && existsSync(join(dir, "state", "v2-restored")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
