// A model's inputs are its training file's columns: a later CSV file with a header is read by the names the state
// records (another order is put right, other names are an error), one without a header by position, with the label
// where the training file had it. Pinned on every reading path: update's training and validation files, update --tune,
// evaluate, predict and the library's readers. Also: a line 1 of whole numbers that is not the training file's
// column names is a row of data, never a dropped header.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Dataset } from "../../src/data/dataset.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { parseCsvWithInfo, parsePredictionCsvWithInfo, parseUnlabelledCsvWithInfo } from "../../src/data/csv.js";
import { DataError } from "../../src/errors.js";
import { parseConfig } from "../../src/workflow/config.js";
import { readDataFileWithInfo } from "../../src/workflow/data_files.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { tunedUpdate } from "../../src/tuning/tune_update.js";
import { loadNamedData } from "../../src/data/named_datasets.js";
import { describeReading } from "../../src/cli/data_flags.js";
import { useBackend } from "../helpers/backend.js";
import { editManifestSealed } from "../helpers/state_edits.js";
import { DIMS, workflowConfig } from "../helpers/workflow_files.js";

before(async () => {
  await useBackend("wasm");
});

const blobs = (samplesPerClass: number, sampleSeed: number) => makeGaussianBlobs({ numClasses: 6, samplesPerClass, dims: DIMS, seed: 3, sampleSeed });
const FEATURES = Array.from({ length: DIMS }, (_, i) => `f${i}`);
const NAMES = [...FEATURES, "label"];
const REVERSED = [...NAMES].reverse();
/** The label in the middle: f0..f3,label,f4..f7. */
const MIDDLE = [...FEATURES.slice(0, 4), "label", ...FEATURES.slice(4)];

/** `data` as CSV with the columns `order` (names of NAMES), under a header of those names (`header` renames some) or none. */
function table(data: Dataset, order: readonly string[], { header = true, rename = {} as Record<string, string> } = {}): string {
  const rows = Array.from({ length: data.length }, (_, r) =>
    order.map((name) => (name === "label" ? String(data.labels[r]) : data.features[r * DIMS + Number(name.slice(1))]!.toFixed(5))),
  );
  const names = order.map((name) => rename[name] ?? name);
  return [...(header ? [names] : []), ...rows].map((row) => row.join(",")).join("\n") + "\n";
}

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), "relearn-data-columns-"));
}

const config = parseConfig(workflowConfig({ maxEpochs: 2 }));
const weights = (state: string) => readFile(join(state, "model/weights.bin"));
const manifestSettings = async (state: string) => (JSON.parse(await readFile(join(state, "manifest.json"), "utf8")) as { data: { data: Record<string, unknown> } }).data.data;

test("a header naming the same columns in another order is read by name: update (training, validation), evaluate and predict give what the file in order gives", async () => {
  const dir = await folder();
  try {
    const [train, val, more, testData] = [blobs(8, 1), blobs(3, 2), blobs(8, 3), blobs(4, 4)];
    const file = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return { path: join(dir, name) };
    };
    const trainFile = await file("train.csv", table(train, NAMES));
    const v1 = join(dir, "v1");
    const first = await updateFromConfig({ config, data: trainFile, val: await file("val.csv", table(val, NAMES)), outputState: v1 });
    assert.equal(first.validation!.read.columnsReordered, undefined);
    // The state records the training file's feature names and label column with its other data settings.
    const settings = await manifestSettings(v1);
    assert.deepEqual([settings["featureNames"], settings["labelColumnRead"]], [FEATURES, { index: DIMS, name: "label" }]);

    // Validation file in another order: the same update, bit for bit.
    const v1b = join(dir, "v1b");
    const reorderedVal = await updateFromConfig({ config, data: trainFile, val: await file("val-reversed.csv", table(val, REVERSED)), outputState: v1b });
    assert.equal(reorderedVal.validation!.read.columnsReordered, true);
    assert.deepEqual(await weights(v1b), await weights(v1));

    // Evaluate and predict: the reversed file (label first) answers as the file in order does.
    await file("test.csv", table(testData, NAMES));
    await file("test-reversed.csv", table(testData, REVERSED));
    await file("new-reversed.csv", table(testData, [...FEATURES].reverse()));
    const inOrder = await evaluateState({ state: v1, data: { path: join(dir, "test.csv") } });
    const reversed = await evaluateState({ state: v1, data: { path: join(dir, "test-reversed.csv") } });
    assert.deepEqual([reversed.accuracy, reversed.confusionMatrix], [inOrder.accuracy, inOrder.confusionMatrix]);
    assert.deepEqual([reversed.read.labelColumn, reversed.read.columnsReordered, reversed.read.featureNames], [{ index: 0, name: "label" }, true, FEATURES]);
    assert.match(describeReading(reversed.read), /label column 1 \("label", index 0\), feature columns reordered by name to the training file's order/);
    const predicted = (await predictState({ state: v1, data: { path: join(dir, "test.csv") } })).classes;
    assert.deepEqual((await predictState({ state: v1, data: { path: join(dir, "test-reversed.csv") } })).classes, predicted);
    const unlabelled = await predictState({ state: v1, data: { path: join(dir, "new-reversed.csv") } });
    assert.deepEqual([unlabelled.classes, unlabelled.read.columnsReordered], [predicted, true]);

    // Update from the state with a reordered training file: the same update as with the file in order, bit for bit,
    // and the state keeps the model's order of names.
    const v2 = join(dir, "v2");
    const v2r = join(dir, "v2r");
    await updateFromConfig({ config, data: await file("more.csv", table(more, NAMES)), inputState: v1, outputState: v2 });
    const resumed = await updateFromConfig({ config, data: await file("more-reversed.csv", table(more, REVERSED)), inputState: v1, outputState: v2r });
    assert.equal(resumed.data.read.columnsReordered, true);
    assert.deepEqual(await weights(v2r), await weights(v2));
    assert.deepEqual((await manifestSettings(v2r))["featureNames"], FEATURES);
    // ... and its layout for header-less files: the label where the first training file had it, not where the
    // reordered file had it (tester G F22: features in the model's order with the label at 0 describe no file, and a
    // header-less file was then read with its label fed to the model as a feature).
    assert.deepEqual((await manifestSettings(v2r))["labelColumnRead"], { index: DIMS, name: "label" });
    await file("test-noheader.csv", table(testData, NAMES, { header: false }));
    const noHeader = { path: join(dir, "test-noheader.csv") };
    assert.deepEqual((await predictState({ state: v2r, data: noHeader })).classes, (await predictState({ state: v2, data: noHeader })).classes);
    assert.deepEqual((await evaluateState({ state: v2r, data: noHeader })).accuracy, (await evaluateState({ state: v2, data: noHeader })).accuracy);

    // update --tune reads its training and validation files the same way.
    const tuning = parseConfig({ ...workflowConfig({ maxEpochs: 1 }), tuning: { space: { "optimizer.learningRate": { logUniform: [1e-3, 1e-1] } }, trials: 2, seed: 5 } });
    const tuned = await tunedUpdate({ config: tuning, data: { path: join(dir, "more-reversed.csv") }, val: { path: join(dir, "val-reversed.csv") }, inputState: v1, outputState: join(dir, "tuned") });
    assert.deepEqual([tuned.update.data.read.columnsReordered, tuned.update.validation!.read.columnsReordered], [true, true]);
    await file("val-renamed.csv", table(val, MIDDLE, { rename: { f2: "g2" } }));
    await assert.rejects(
      tunedUpdate({ config: tuning, data: { path: join(dir, "more.csv") }, val: { path: join(dir, "val-renamed.csv") }, inputState: v1, outputState: join(dir, "tuned-bad") }),
      (error: unknown) => error instanceof DataError && /val-renamed\.csv: .*missing "f2"; not in the training file "g2"/.test(error.message),
    );
    assert.equal(existsSync(join(dir, "tuned-bad")), false, "nothing written");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a header with other, missing or extra feature names is a DataError naming them, on every path, and nothing is written", async () => {
  const dir = await folder();
  try {
    const [train, testData] = [blobs(6, 1), blobs(2, 4)];
    await writeFile(join(dir, "train.csv"), table(train, NAMES));
    const v1 = join(dir, "v1");
    await updateFromConfig({ config, data: { path: join(dir, "train.csv") }, outputState: v1 });
    const cases: [string, string, RegExp][] = [
      ["renamed.csv", table(testData, NAMES, { rename: { f3: "g3" } }), /missing "f3"; not in the training file "g3"/],
      ["missing.csv", table(testData, [...FEATURES.slice(0, 7), "label"]), /missing "f7"/],
      ["extra.csv", table(testData, NAMES, { rename: { label: "extra" } }).split("\n").map((line, i) => (line === "" ? line : `${line},${i === 0 ? "label" : testData.labels[i - 1]}`)).join("\n"), /not in the training file "extra"/],
    ];
    for (const [name, text, problem] of cases) {
      await writeFile(join(dir, name), text);
      const named = (error: unknown) =>
        error instanceof DataError && error.message.startsWith(`${join(dir, name)}: line 1: the header's feature columns`) && problem.test(error.message) &&
        /The model takes the columns "f0", "f1", .*rename or select the columns/.test(error.message);
      await assert.rejects(evaluateState({ state: v1, data: { path: join(dir, name) } }), named, name);
      await assert.rejects(predictState({ state: v1, data: { path: join(dir, name) } }), named, name);
      await assert.rejects(updateFromConfig({ config, data: { path: join(dir, name) }, inputState: v1, outputState: join(dir, "out") }), named, name);
      await assert.rejects(updateFromConfig({ config, data: { path: join(dir, "train.csv") }, val: { path: join(dir, name) }, outputState: join(dir, "out") }), named, name);
      assert.equal(existsSync(join(dir, "out")), false, "nothing written");
    }
    // To predict on, a file without labels whose header has the label's name in place of a feature's: the label
    // column is dropped by its name, and the feature it replaced is missing.
    await writeFile(join(dir, "swapped.csv"), table(testData, ["label", ...FEATURES.slice(1)]));
    await assert.rejects(predictState({ state: v1, data: { path: join(dir, "swapped.csv") } }), /\(every column but the label's, column 1 \("label", index 0\)\) are not the training file's: missing "f0"\./);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a file without a header is read by position, with the label where the training file had it (found by name in the middle): never fed to the model", async () => {
  const dir = await folder();
  try {
    const [train, more, testData] = [blobs(8, 1), blobs(8, 3), blobs(4, 4)];
    await writeFile(join(dir, "mid-train.csv"), table(train, MIDDLE));
    const state = join(dir, "mid");
    const first = await updateFromConfig({ config, data: { path: join(dir, "mid-train.csv") }, outputState: state });
    assert.deepEqual(first.data.read.labelColumn, { index: 4, name: "label" });
    assert.deepEqual((await manifestSettings(state))["labelColumnRead"], { index: 4, name: "label" });

    await writeFile(join(dir, "mid-test.csv"), table(testData, MIDDLE));
    await writeFile(join(dir, "mid-test-bare.csv"), table(testData, MIDDLE, { header: false }));
    const named = await evaluateState({ state, data: { path: join(dir, "mid-test.csv") } });
    const bare = await evaluateState({ state, data: { path: join(dir, "mid-test-bare.csv") } });
    assert.deepEqual([bare.items, bare.accuracy, bare.confusionMatrix, bare.read.header, bare.read.labelColumn], [named.items, named.accuracy, named.confusionMatrix, false, { index: 4 }]);
    const predicted = (await predictState({ state, data: { path: join(dir, "mid-test.csv") } })).classes;
    const bareLabelled = await predictState({ state, data: { path: join(dir, "mid-test-bare.csv") } });
    assert.deepEqual([bareLabelled.classes, bareLabelled.read.labelColumn], [predicted, { index: 4 }]);
    await writeFile(join(dir, "new-bare.csv"), table(testData, FEATURES, { header: false }));
    assert.deepEqual((await predictState({ state, data: { path: join(dir, "new-bare.csv") } })).classes, predicted);

    // Update from the state: a training file without a header has its label in column 4 too (bit for bit the same update).
    await writeFile(join(dir, "more.csv"), table(more, MIDDLE));
    await writeFile(join(dir, "more-bare.csv"), table(more, MIDDLE, { header: false }));
    await updateFromConfig({ config, data: { path: join(dir, "more.csv") }, inputState: state, outputState: join(dir, "v2") });
    const resumed = await updateFromConfig({ config, data: { path: join(dir, "more-bare.csv") }, inputState: state, outputState: join(dir, "v2-bare") });
    assert.deepEqual(resumed.data.read.labelColumn, { index: 4 });
    assert.deepEqual(await weights(join(dir, "v2-bare")), await weights(join(dir, "v2")));
    // The state still knows the names and the label's (the file had no header to say them).
    assert.deepEqual([(await manifestSettings(join(dir, "v2-bare")))["featureNames"], (await manifestSettings(join(dir, "v2-bare")))["labelColumnRead"]], [FEATURES, { index: 4, name: "label" }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a line 1 of increasing whole numbers that is not the training file's column names is data: predict and evaluate keep every row", async () => {
  const dir = await folder();
  try {
    await writeFile(join(dir, "train.csv"), table(blobs(6, 1), NAMES));
    const state = join(dir, "state");
    await updateFromConfig({ config, data: { path: join(dir, "train.csv") }, outputState: state });
    // The tester's file: two rows in, two predictions out.
    await writeFile(join(dir, "ints.csv"), "1,2,3,4,5,6,7,8\n2,3,4,5,6,7,8,9\n");
    const ints = await predictState({ state, data: { path: join(dir, "ints.csv") } });
    assert.deepEqual([ints.classes.length, ints.read.header, ints.read.headerRule], [2, false, "feature-names"]);
    assert.match(describeReading(ints.read), /header row: no \(auto: line 1 is whole numbers, not the training file's column names: data\)/);
    // Evaluate too (label in the middle, so a labelled line 1 can be increasing whole numbers: 0..8, label 4).
    await writeFile(join(dir, "mid-train.csv"), table(blobs(6, 1), MIDDLE));
    const mid = join(dir, "mid");
    await updateFromConfig({ config, data: { path: join(dir, "mid-train.csv") }, outputState: mid });
    await writeFile(join(dir, "mid-ints.csv"), "0,1,2,3,4,5,6,7,8\n1,2,3,4,5,6,7,8,9\n");
    const evaluation = await evaluateState({ state: mid, data: { path: join(dir, "mid-ints.csv") } });
    assert.deepEqual([evaluation.items, evaluation.read.header], [2, false]);

    // States written before the names were recorded read as before: by position, line 1 as the training file's was.
    await editManifestSealed(state, (edited) => {
      delete edited.data["data"].featureNames;
      delete edited.data["data"].labelColumnRead;
    });
    const old = await predictState({ state, data: { path: join(dir, "ints.csv") } });
    assert.deepEqual([old.classes.length, old.read.headerRule], [1, "remembered"]);
    await writeFile(join(dir, "reversed.csv"), table(blobs(2, 4), REVERSED));
    assert.equal((await predictState({ state, data: { path: join(dir, "reversed.csv") } })).read.columnsReordered, undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("library readers: featureNames reorders a header by name, names the differences, settles a line 1 of whole numbers; labelColumnFallback places a header-less label", async () => {
  const text = "b,label,a\n1.5,0,2.5\n3.5,1,4.5\n";
  const { dataset, info } = parseCsvWithInfo(text, { featureNames: ["a", "b"] });
  assert.deepEqual([Array.from(dataset.features), info.featureNames, info.columnsReordered], [[2.5, 1.5, 4.5, 3.5], ["a", "b"], true]);
  assert.deepEqual(Array.from(parseCsvWithInfo(text).dataset.features), [1.5, 2.5, 3.5, 4.5], "without names: by position, as before");
  assert.throws(() => parseCsvWithInfo(text, { featureNames: ["a", "c"], source: "x.csv" }), /x\.csv: line 1: the header's feature columns \(every column but the label's, column 2 \("label", index 1\)\) are not the training file's: missing "c"; not in the training file "b"/);
  assert.throws(() => parseCsvWithInfo("a,a,label\n1.5,2.5,0\n", { featureNames: ["a", "b"] }), /missing "b"; named twice "a"/);
  const unlabelled = parseUnlabelledCsvWithInfo("b,a\n1.5,2.5\n", { featureNames: ["a", "b"] });
  assert.deepEqual(Array.from(unlabelled.samples.features), [2.5, 1.5]);
  // A line of whole numbers: a header when it is the names, else data.
  assert.deepEqual([parseUnlabelledCsvWithInfo("1,2\n3,4\n", { featureNames: ["1", "2"] }).samples.length, parseUnlabelledCsvWithInfo("1,2\n3,4\n", { featureNames: ["a", "b"] }).samples.length], [1, 2]);
  // Header-less: the label where the training file had it (or as the labelColumn name says), never as a feature.
  const middle = parsePredictionCsvWithInfo("1.5,0,2.5\n", { inputs: 2, labelColumnFallback: { index: 1, name: "y" } });
  assert.deepEqual([Array.from(middle.samples.features), middle.info.labelColumn], [[1.5, 2.5], { index: 1 }]);
  assert.deepEqual(parseCsvWithInfo("1.5,0,2.5\n", { labelColumn: "y", labelColumnFallback: { index: 1, name: "y" } }).info.labelColumn, { index: 1 });
  // With a header, the training file's label name is found wherever it is.
  assert.deepEqual(parseCsvWithInfo("y,b,a\n0,1.5,2.5\n", { featureNames: ["a", "b"], labelColumnFallback: { index: 2, name: "y" } }).info.labelColumn, { index: 0, name: "y" });
  // readDataFileWithInfo (the workflow's reader) takes them with the config's data settings.
  const dir = await folder();
  try {
    await writeFile(join(dir, "f.csv"), text);
    const read = await readDataFileWithInfo({ path: join(dir, "f.csv") }, { layout: "flat", featureNames: ["a", "b"] }, { featureShape: [2] });
    assert.deepEqual([Array.from(read.samples.features), read.reading.columnsReordered], [[2.5, 1.5, 4.5, 3.5], true]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("benchmark CSV data (loadNamedData): the test file's columns are the training file's, by name", async () => {
  const dir = await folder();
  try {
    const [train, testData] = [blobs(4, 1), blobs(2, 4)];
    await writeFile(join(dir, "train.csv"), table(train, NAMES));
    await writeFile(join(dir, "test.csv"), table(testData, NAMES));
    await writeFile(join(dir, "test-reversed.csv"), table(testData, REVERSED));
    await writeFile(join(dir, "test-renamed.csv"), table(testData, NAMES, { rename: { f5: "g5" } }));
    const inOrder = await loadNamedData(join(dir, "train.csv"), { testDataset: join(dir, "test.csv") });
    const reversed = await loadNamedData(join(dir, "train.csv"), { testDataset: join(dir, "test-reversed.csv") });
    assert.deepEqual([reversed.test.features, reversed.test.labels], [inOrder.test.features, inOrder.test.labels]);
    await assert.rejects(loadNamedData(join(dir, "train.csv"), { testDataset: join(dir, "test-renamed.csv") }), /test-renamed\.csv: line 1: .*missing "f5"; not in the training file "g5"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a header without the training file's label column name: labelled reading (evaluate, update) refuses the other column, naming --label-column; predict drops it; --label-column reads it", async () => {
  const dir = await folder();
  try {
    const [train, testData] = [blobs(8, 1), blobs(4, 4)];
    await writeFile(join(dir, "train.csv"), table(train, NAMES));
    const v1 = join(dir, "v1");
    await updateFromConfig({ config, data: { path: join(dir, "train.csv") }, outputState: v1 });
    // The label column renamed to "id" (an id column, or a renamed target: relearn cannot tell; ids would read as labels).
    await writeFile(join(dir, "test-id.csv"), table(testData, NAMES, { rename: { label: "id" } }));
    await writeFile(join(dir, "test.csv"), table(testData, NAMES));
    const refused = (error: unknown) =>
      error instanceof DataError &&
      /test-id\.csv: line 1: the header has no column "label", the training file's label column; the column that would be taken instead is column 9 \("id", index 8\): if it holds the labels, pass --label-column "id"/.test(error.message);
    await assert.rejects(evaluateState({ state: v1, data: { path: join(dir, "test-id.csv") } }), refused);
    await assert.rejects(updateFromConfig({ config, data: { path: join(dir, "test-id.csv") }, inputState: v1, outputState: join(dir, "v2") }), refused);
    assert.equal(existsSync(join(dir, "v2")), false);
    // Told which column: the same answers as the file with "label".
    const named = await evaluateState({ state: v1, data: { path: join(dir, "test-id.csv") }, format: { labelColumn: "id" } });
    const expected = await evaluateState({ state: v1, data: { path: join(dir, "test.csv") } });
    assert.deepEqual([named.accuracy, named.confusionMatrix], [expected.accuracy, expected.confusionMatrix]);
    // With the label column and an id column, predict drops the label by name and names only the id (tester G, F3).
    await writeFile(join(dir, "test-label-id.csv"), table(testData, [...NAMES, "f0"], { rename: {} }).replace(/^(.*)\n/, (line) => line.replace(/,f0\n$/, ",id\n")));
    await assert.rejects(predictState({ state: v1, data: { path: join(dir, "test-label-id.csv") } }), (error: unknown) => {
      assert.ok(error instanceof DataError, String(error));
      assert.match(error.message, /not in the training file "id"/);
      assert.doesNotMatch(error.message, /not in the training file [^.]*"label"/);
      return true;
    });
    // Predict reads the features by name and drops the other column unread.
    const predicted = await predictState({ state: v1, data: { path: join(dir, "test-id.csv") } });
    assert.deepEqual(predicted.classes, (await predictState({ state: v1, data: { path: join(dir, "test.csv") } })).classes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
