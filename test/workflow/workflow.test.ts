import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { DIMS, workflowFolder } from "../helpers/workflow_files.js";
import { encodeIdx } from "../../src/data/idx.js";
import { readConfig, configJsonSchema, parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { predictState, predictionsToCsv } from "../../src/workflow/predict_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";
import { DataError, OptionsError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.set(relative(dir, join(d, e.name)), await readFile(join(d, e.name)));
    }
  };
  await walk(dir);
  return out;
}

test("three updates, then evaluate, predict and inspect: every step is one library call", async () => {
  const dir = await workflowFolder();
  try {
    const config = await readConfig(join(dir, "relearn.json"));
    let input: string | undefined;
    for (let i = 1; i <= 3; i++) {
      const summary = await updateFromConfig({ config, data: { path: join(dir, `chunk${i}.csv`) }, inputState: input, outputState: join(dir, `v${i}`) });
      assert.equal(summary.updatesDone, i);
      assert.deepEqual(summary.phases.map((p) => p.phase), ["expert", "consolidation"]);
      assert.equal(summary.memory!.length, 40);
      input = join(dir, `v${i}`);
    }
    const evaluation = await evaluateState({ state: join(dir, "v3"), data: { path: join(dir, "test.csv") } });
    assert.equal(evaluation.items, 60);
    assert.ok(evaluation.accuracy > 0.5, `accuracy ${evaluation.accuracy}`);
    assert.equal(evaluation.confusionMatrix.flat().reduce((a, b) => a + b), 60);
    const predictions = await predictState({ state: join(dir, "v3"), data: { path: join(dir, "test.csv") } });
    const csv = predictionsToCsv(predictions).trim().split("\n");
    assert.equal(csv.length, 61);
    const probabilities = csv[1]!.split(",").slice(2).map(Number);
    assert.ok(Math.abs(probabilities.reduce((a, b) => a + b) - 1) < 1e-4);
    const inspection = await inspectState(join(dir, "v3"));
    assert.equal(inspection.updatesDone, 3);
    assert.equal(inspection.updater, "repeated-distillation");
    assert.deepEqual(inspection.memory!.classHistogram.reduce((a, b) => a + b), 40);
    assert.equal(inspection.metricsHistory.length, 3 * 2 * 5, "3 updates x 2 phases x 5 epochs");
    assert.equal(inspection.options["memorySize"], 40);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("predict needs no labels: an unlabelled CSV or IDX file gives the same predictions as the labelled one", async () => {
  const dir = await workflowFolder();
  try {
    const config = await readConfig(join(dir, "relearn.json"));
    await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "v1") });
    const state = join(dir, "v1");
    const labelled = await predictState({ state, data: { path: join(dir, "test.csv") } });

    // The same rows without the label column, with and without a header.
    const rows = (await readFile(join(dir, "test.csv"), "utf8")).trim().split("\n").map((line) => line.split(",").slice(0, -1).join(","));
    await writeFile(join(dir, "new.csv"), rows.join("\n") + "\n");
    await writeFile(join(dir, "new-no-header.csv"), rows.slice(1).join("\n") + "\n");
    for (const name of ["new.csv", "new-no-header.csv"]) {
      const unlabelled = await predictState({ state, data: { path: join(dir, name) } });
      assert.deepEqual(unlabelled.classes, labelled.classes, name);
      assert.deepEqual(unlabelled.probabilities, labelled.probabilities, name);
    }

    // A row short of one input is an error naming the file and both shapes; with a header, the column missing.
    await writeFile(join(dir, "short.csv"), rows.slice(1).map((line) => line.split(",").slice(1).join(",")).join("\n") + "\n");
    await assert.rejects(predictState({ state, data: { path: join(dir, "short.csv") } }), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(error.message, /short\.csv: samples have shape \[7\] but the model takes \[8\]/);
      return true;
    });
    await writeFile(join(dir, "short-named.csv"), rows.map((line) => line.split(",").slice(1).join(",")).join("\n") + "\n");
    await assert.rejects(predictState({ state, data: { path: join(dir, "short-named.csv") } }), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(error.message, /short-named\.csv: line 1: the header's feature columns are not the training file's: missing "f0"/);
      return true;
    });

    // IDX images (bytes, [n, 8]) with and without their labels file.
    const bytes = Uint8Array.from({ length: 20 * DIMS }, (_, i) => (i * 37) % 256);
    await writeFile(join(dir, "images.idx"), encodeIdx([20, DIMS], bytes));
    await writeFile(join(dir, "labels.idx"), encodeIdx([20], new Uint8Array(20)));
    const withLabels = await predictState({ state, data: { path: join(dir, "images.idx"), labels: join(dir, "labels.idx") } });
    const withoutLabels = await predictState({ state, data: { path: join(dir, "images.idx") } });
    assert.equal(withoutLabels.classes.length, 20);
    assert.deepEqual(withoutLabels.probabilities, withLabels.probabilities);
    // evaluate still needs labels.
    await assert.rejects(evaluateState({ state, data: { path: join(dir, "images.idx") } }), /IDX images \(told by the file.s IDX magic number\) need their labels file too/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("same seed and inputs give byte-identical output states", async () => {
  const dir = await workflowFolder();
  try {
    const config = await readConfig(join(dir, "relearn.json"));
    for (const name of ["a", "b"]) {
      await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, name, "v1") });
      await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: join(dir, name, "v1"), outputState: join(dir, name, "v2") });
    }
    const a = await filesOf(join(dir, "a", "v2"));
    const b = await filesOf(join(dir, "b", "v2"));
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [file, bytes] of a) assert.ok(bytes.equals(b.get(file)!), `${file} differs`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bad data is a clear error naming the file and row, and nothing is written", async () => {
  const dir = await workflowFolder();
  try {
    const config = await readConfig(join(dir, "relearn.json"));
    const good = await readFile(join(dir, "chunk1.csv"), "utf8");
    const lines = good.split("\n");
    const cases: [string, string, RegExp][] = [
      ["nan.csv", lines.map((l, i) => (i === 3 ? l.replace(/^[^,]+/, "NaN") : l)).join("\n"), /nan\.csv.*line 4/i],
      ["inf.csv", lines.map((l, i) => (i === 5 ? l.replace(/^[^,]+/, "Infinity") : l)).join("\n"), /inf\.csv.*line 6/i],
      ["columns.csv", lines.map((l, i) => (i === 2 ? l + ",1" : l)).join("\n"), /columns\.csv.*line 3/i],
      ["label.csv", lines.map((l, i) => (i === 7 ? l.replace(/,\d+$/, ",9") : l)).join("\n"), /label\.csv has class 9 \(first in data row 7\), but the model has 6 outputs \(classes 0\.\.5\): new classes appeared.*--grow-classes/],
      ["empty.csv", "", /empty\.csv/],
      ["narrow.csv", lines.map((l) => l.split(",").slice(1).join(",")).join("\n"), /narrow\.csv.*shape \[7\]/],
    ];
    for (const [name, text, message] of cases) {
      await writeFile(join(dir, name), text);
      await assert.rejects(
        updateFromConfig({ config, data: { path: join(dir, name) }, outputState: join(dir, "out") }),
        (e: unknown) => e instanceof DataError && message.test((e as Error).message),
        name,
      );
      assert.equal(await stat(join(dir, "out")).catch(() => null), null, `${name}: nothing written`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("configs are validated with readable errors, and the JSON Schema describes them", async () => {
  assert.throws(() => parseConfig({ model: { type: "mlp", inputShape: [4], hidden: [], classes: 2 }, updater: "nope" }), OptionsError);
  assert.throws(() => parseConfig({ model: { type: "mlp", inputShape: [4], hidden: [], classes: 2 }, updater: "rd", options: { memorySise: 3 } }), /memorySise/);
  const schema = configJsonSchema() as { properties: Record<string, unknown>; required: string[] };
  assert.ok(schema.properties["model"] && schema.properties["updater"] && schema.properties["options"]);
  assert.deepEqual([...schema.required].sort(), ["model", "updater"]);
});

test("30 updates in a row in one process: tensor count constant", async () => {
  const dir = await workflowFolder(8);
  try {
    const config = parseConfig({ ...(await readConfig(join(dir, "relearn.json"))), options: { memorySize: 20, batchSize: 16, maxEpochs: 1, seed: 1, backend: "wasm" } });
    let counts: number[] = [];
    let heap: number[] = [];
    for (let i = 0; i < 30; i++) {
      await updateFromConfig({
        config,
        data: { path: join(dir, `chunk${(i % 3) + 1}.csv`) },
        inputState: i === 0 ? undefined : join(dir, "state"),
        outputState: join(dir, "state"),
      });
      counts.push(tf.memory().numTensors);
      heap.push(process.memoryUsage().heapUsed);
    }
    counts = counts.slice(2);
    heap = heap.slice(5);
    assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts}`);
    // memory flat: the last five updates use no more than 1.5x the heap of updates 5-10
    const early = Math.max(...heap.slice(0, 5));
    const late = Math.max(...heap.slice(-5));
    assert.ok(late < early * 1.5, `heap grew from ${early} to ${late}`);
    assert.equal((await inspectState(join(dir, "state"))).updatesDone, 30);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a state carries its training logs: metrics.jsonl, metrics.csv and TensorBoard scalars that pass the CRC checks", async () => {
  const { readEventFile } = await import("../../src/reporting/tensorboard.js");
  const dir = await workflowFolder();
  try {
    const config = await readConfig(join(dir, "relearn.json"));
    await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, val: { path: join(dir, "test.csv") }, outputState: join(dir, "v1") });
    await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: join(dir, "v1"), outputState: join(dir, "v2") });
    const logs = join(dir, "v2", "logs");
    const jsonl = (await readFile(join(logs, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(jsonl.length, 2 * 2 * 5);
    assert.deepEqual([jsonl[0]!["update"], jsonl[0]!["phase"], jsonl[0]!["epoch"], jsonl[0]!["learningRate"]], [1, "expert", 0, 0.01]);
    assert.equal(typeof jsonl[0]!["val_accuracy"], "number");
    const csv = (await readFile(join(logs, "metrics.csv"), "utf8")).trim().split("\n");
    assert.equal(csv.length, 1 + 20);
    const events = (await readdir(join(logs, "tensorboard"))).filter((f) => f.startsWith("events.out.tfevents."));
    assert.equal(events.length, 2, "one event file per update");
    const records = events.flatMap((f) => [f]);
    let scalars = 0;
    for (const f of records) for (const r of readEventFile(await readFile(join(logs, "tensorboard", f)), f)) scalars += r.scalars.length;
    assert.ok(scalars >= 20 * 3, `${scalars} scalars`);
    const history = (await inspectState(join(dir, "v2"))).metricsHistory;
    assert.equal(history.length, 20);
    assert.equal(history[0]!.learningRate, 0.01);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the manifest names the model spec, the updater and its options, the counters and the memory's random state", async () => {
  const dir = await workflowFolder();
  try {
    const config = await readConfig(join(dir, "relearn.json"));
    await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "v1") });
    const manifest = JSON.parse(await readFile(join(dir, "v1", "manifest.json"), "utf8")) as {
      formatVersion: number; library: { version: string }; kind: string; files: Record<string, { sha256: string }>;
      data: { updatesDone: number; options: Record<string, unknown>; model: { spec: unknown }; algorithm: { memory: { meta: { randomState: number[]; seen: number } } } };
    };
    assert.equal(manifest.formatVersion, 2);
    assert.equal(manifest.kind, "repeated-distillation");
    assert.deepEqual(manifest.data.model.spec, config.model);
    assert.equal(manifest.data.options["memorySize"], 40);
    assert.equal(manifest.data.updatesDone, 1);
    assert.equal(manifest.data.algorithm.memory.meta.seen, 80);
    assert.equal(manifest.data.algorithm.memory.meta.randomState.length, 4);
    assert.ok(Object.keys(manifest.files).includes("model/weights.bin"));
    assert.ok(Object.values(manifest.files).every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));
    assert.deepEqual((await inspectState(join(dir, "v1"))).model, manifest.data.model);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
