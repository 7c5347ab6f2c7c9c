// Class names through the library workflow: a list given in the config (its order, not sorted) is stored and used;
// a state trained on class indices refuses names until the config names its classes; validation labels go through
// the training file's list.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";
import { predictState, predictionsToCsv, predictionsToJsonl, unnamedPredictionsNote } from "../../src/workflow/predict_state.js";
import { useBackend } from "../helpers/backend.js";
import { DIMS, workflowConfig } from "../helpers/workflow_files.js";

before(async () => {
  await useBackend("wasm");
});

/** Blobs of 3 classes as CSV; the label of blob k is `label(k)`. */
function csv(sampleSeed: number, label: (k: number) => string): string {
  const data = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 8, dims: DIMS, seed: 3, sampleSeed });
  const rows = Array.from({ length: data.length }, (_, r) => [...Array.from(data.features.subarray(r * DIMS, (r + 1) * DIMS), (v) => v.toFixed(5)), label(data.labels[r]!)].join(","));
  return [[...Array.from({ length: DIMS }, (_, i) => `f${i}`), "label"].join(","), ...rows].join("\n") + "\n";
}

const NAMES = ["dog", "cat", "bird"];
const config = (data: Record<string, unknown> = {}) =>
  parseConfig({ ...workflowConfig({ maxEpochs: 1 }), model: { type: "mlp", inputShape: [DIMS], hidden: [8], classes: 3 }, data });

test("classNames in the config: its order is the index order, stored in the state, used by evaluate and predict", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-names-"));
  try {
    await writeFile(join(dir, "train.csv"), csv(1, (k) => NAMES[k]!));
    const summary = await updateFromConfig({ config: config({ classNames: NAMES }), data: { path: join(dir, "train.csv") }, outputState: join(dir, "v1") });
    assert.deepEqual(summary.data.classNames, NAMES);
    assert.deepEqual(summary.data.classHistogram, [8, 8, 8]);
    assert.deepEqual((await inspectState(join(dir, "v1"))).dataSettings, {
      header: "auto", layout: "flat", classNames: NAMES, headerRead: true, delimiterRead: ",",
      featureNames: Array.from({ length: DIMS }, (_, i) => `f${i}`), labelColumnRead: { index: DIMS, name: "label" },
    });
    const evaluation = await evaluateState({ state: join(dir, "v1"), data: { path: join(dir, "train.csv") } });
    assert.deepEqual(evaluation.classNames, NAMES);
    const predictions = await predictState({ state: join(dir, "v1"), data: { path: join(dir, "train.csv") } });
    assert.deepEqual(predictions.classNames, NAMES);
    const lines = predictionsToCsv(predictions, predictions.classNames).trim().split("\n");
    assert.equal(lines[0], "index,prediction,class,p_0,p_1,p_2");
    for (const line of lines.slice(1)) assert.equal(line.split(",")[2], NAMES[Number(line.split(",")[1])]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a state trained on class indices: names are an error saying how to map them; the config's classNames name its indices", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-names-"));
  try {
    await writeFile(join(dir, "numbers.csv"), csv(1, String));
    await writeFile(join(dir, "names.csv"), csv(2, (k) => NAMES[k]!));
    await updateFromConfig({ config: config(), data: { path: join(dir, "numbers.csv") }, outputState: join(dir, "v1") });
    const request = { data: { path: join(dir, "names.csv") }, inputState: join(dir, "v1"), outputState: join(dir, "v2") };
    await assert.rejects(updateFromConfig({ config: config(), ...request }), {
      name: "DataError",
      message: /names\.csv: line 2, column 9 \("label"\): label "\w+" is not a number and no class names are set: list the class names in the config's "data\.classNames"/,
    });
    const summary = await updateFromConfig({ config: config({ classNames: NAMES }), ...request });
    assert.deepEqual(summary.data.classNames, NAMES);
    assert.deepEqual(summary.data.classHistogram, [8, 8, 8]);
    // Numeric labels keep working exactly as before: no names, the same histogram.
    const numeric = await updateFromConfig({ config: config(), data: { path: join(dir, "numbers.csv") }, inputState: join(dir, "v1"), outputState: join(dir, "v3") });
    assert.equal(numeric.data.classNames, undefined);
    assert.equal((await inspectState(join(dir, "v3"))).dataSettings?.["classNames"], undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("validation labels go through the training file's class names: one the training file lacks is an error, nothing written", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-names-"));
  try {
    await writeFile(join(dir, "train.csv"), csv(1, (k) => NAMES[k]!));
    await writeFile(join(dir, "val.csv"), csv(2, (k) => (k === 2 ? "owl" : NAMES[k]!)));
    await assert.rejects(
      updateFromConfig({ config: config(), data: { path: join(dir, "train.csv") }, val: { path: join(dir, "val.csv") }, outputState: join(dir, "v1") }),
      { name: "DataError", message: /val\.csv: line \d+, column 9 \("label"\): label "owl" is not one of the 3 classes \("bird", "cat", "dog"\)/ },
    );
    await assert.rejects(inspectState(join(dir, "v1")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a model with an unnamed output (3 outputs, data named 2): a new name is refused with the free output named as the remedy; the config's list or growClasses give it that output without growing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-names-"));
  try {
    // Blobs 0 and 1 are cat and dog in the first file; the second file has only blob 2, called bird.
    await writeFile(join(dir, "n1.csv"), csv(1, (k) => ["cat", "dog", "dog"][k]!));
    const birds = csv(2, () => "bird").split("\n");
    await writeFile(join(dir, "n2.csv"), [birds[0], ...birds.slice(1).filter((line, r) => line !== "" && r % 3 === 2)].join("\n") + "\n");
    const v1 = await updateFromConfig({ config: config(), data: { path: join(dir, "n1.csv") }, outputState: join(dir, "v1") });
    assert.deepEqual(v1.data.classNames, ["cat", "dog"]);
    await assert.rejects(
      updateFromConfig({ config: config(), data: { path: join(dir, "n2.csv") }, inputState: join(dir, "v1"), outputState: join(dir, "v2") }),
      (error: Error) => {
        assert.match(error.message, /label "bird" is not one of the 2 named classes/);
        assert.match(error.message, /the model has 3 outputs and only 2 are named/);
        assert.match(error.message, /"data\.classNames" \("cat", "dog", "bird"\)/);
        return true;
      },
    );
    for (const [name, settings] of [
      ["listed", { config: config({ classNames: ["cat", "dog", "bird"] }) }],
      ["grown", { config: parseConfig({ ...workflowConfig({ maxEpochs: 1, growClasses: true }), model: { type: "mlp", inputShape: [DIMS], hidden: [8], classes: 3 } }) }],
    ] as const) {
      const out = join(dir, `v2-${name}`);
      const v2 = await updateFromConfig({ ...settings, data: { path: join(dir, "n2.csv") }, inputState: join(dir, "v1"), outputState: out });
      assert.deepEqual(v2.data.classNames, ["cat", "dog", "bird"], name);
      assert.deepEqual(v2.data.classHistogram, [0, 0, 8], name);
      assert.equal(v2.classesGrown, undefined, `${name}: the free output is used, the model does not grow`);
      const evaluation = await evaluateState({ state: out, data: { path: join(dir, "n2.csv") } });
      assert.equal(evaluation.classNames?.length, 3, name);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("predictions on outputs with no name: the class field is empty (CSV) or null (JSON), and a note counts the rows and names the outputs", () => {
  const predictions = { classes: Int32Array.from([0, 2, 3, 2, 1]), probabilities: new Float32Array(5 * 4).fill(0.25), numClasses: 4 };
  const names = ["cat", "dog"];
  const csvRows = predictionsToCsv(predictions, names).trim().split("\n").slice(1).map((row) => row.split(",")[2]);
  assert.deepEqual(csvRows, ["cat", "", "", "", "dog"]);
  const jsonClasses = predictionsToJsonl(predictions, names).trim().split("\n").map((line) => (JSON.parse(line) as { class: string | null }).class);
  assert.deepEqual(jsonClasses, ["cat", null, null, null, "dog"]);
  const note = unnamedPredictionsNote(predictions, names);
  assert.match(note ?? "", /^3 of 5 rows predict outputs 2, 3, which have no class name \(the state names 2 of the model's 4 outputs\): their class field is empty/);
  assert.match(unnamedPredictionsNote({ ...predictions, classes: Int32Array.from([2, 0]) }, names) ?? "", /^1 of 2 rows predict output 2, which has no class name/);
  // Every prediction named, or a state without names (no class column at all): no note.
  assert.equal(unnamedPredictionsNote({ ...predictions, classes: Int32Array.from([0, 1, 1]) }, names), undefined);
  assert.equal(unnamedPredictionsNote(predictions, undefined), undefined);
});
