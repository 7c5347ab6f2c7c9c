// CSV files as pandas writes them (numbered columns), explicit header settings, and the data settings a
// state remembers so that evaluate and predict read files the way update did.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Dataset } from "../../src/data/dataset.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { DataError, StateError } from "../../src/errors.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";
import { createUpdater } from "../../src/updaters/registry.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";
import { editManifestSealed } from "../helpers/state_edits.js";
import { DIMS, workflowConfig } from "../helpers/workflow_files.js";

before(async () => {
  await useBackend("wasm");
});

const blobs = (samplesPerClass: number, sampleSeed: number) => makeGaussianBlobs({ numClasses: 6, samplesPerClass, dims: DIMS, seed: 3, sampleSeed });

/** `data` as CSV: `header` (or none) then one row per sample, features then the label unless `labels` is false. */
function csv(data: Dataset, header: string[] | null, labels = true): string {
  const rows = Array.from({ length: data.length }, (_, r) => [
    ...Array.from(data.features.subarray(r * DIMS, (r + 1) * DIMS), (v) => v.toFixed(5)),
    ...(labels ? [String(data.labels[r])] : []),
  ]);
  return [...(header ? [header] : []), ...rows].map((row) => row.join(",")).join("\n") + "\n";
}
const numbered = (k: number, from = 0) => Array.from({ length: k }, (_, i) => String(from + i));

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), "relearn-data-settings-"));
}

test("pandas-written CSVs (numbered columns 0..n-1, with or without a 'label' name): update, evaluate and predict read exactly the data rows", async () => {
  const dir = await folder();
  try {
    const train = blobs(10, 1);
    const test = blobs(3, 2);
    const config = parseConfig(workflowConfig({ maxEpochs: 1 }));
    for (const [name, header] of [["numbers", numbered(DIMS + 1)], ["label", [...numbered(DIMS), "label"]]] as const) {
      await writeFile(join(dir, `${name}-train.csv`), csv(train, [...header]));
      await writeFile(join(dir, `${name}-val.csv`), csv(test, [...header]));
      const summary = await updateFromConfig({
        config,
        data: { path: join(dir, `${name}-train.csv`) },
        val: { path: join(dir, `${name}-val.csv`) },
        outputState: join(dir, `${name}-state`),
      });
      assert.equal(summary.data.items, train.length, name);
      assert.deepEqual(summary.data.classHistogram, [10, 10, 10, 10, 10, 10], name);
      assert.deepEqual(summary.data.read, {
        file: join(dir, `${name}-train.csv`), format: "csv", rows: train.length, header: true,
        headerRule: name === "numbers" ? "column-numbers" : "names", labelColumn: { index: DIMS, name: header[DIMS] }, delimiter: ",", delimiterRule: "detected",
        featureNames: numbered(DIMS),
      });
      assert.equal(summary.validation!.items, test.length, name);
      assert.equal(summary.validation!.read.header, true, name);

      const state = join(dir, `${name}-state`);
      const evaluation = await evaluateState({ state, data: { path: join(dir, `${name}-val.csv`) } });
      assert.equal(evaluation.items, test.length, name);
      assert.equal(evaluation.confusionMatrix.flat().reduce((a, b) => a + b), test.length, name);
      // Labels included or not, predict gives one row per sample, in order.
      const labelled = await predictState({ state, data: { path: join(dir, `${name}-val.csv`) } });
      assert.equal(labelled.classes.length, test.length, name);
      await writeFile(join(dir, `${name}-new.csv`), csv(test, numbered(DIMS), false));
      const unlabelled = await predictState({ state, data: { path: join(dir, `${name}-new.csv`) } });
      assert.deepEqual(unlabelled.classes, labelled.classes, name);
      assert.deepEqual([unlabelled.read.rows, unlabelled.read.header, unlabelled.read.labelColumn], [test.length, true, null]);
    }
    // The case: two rows under the header 0,1 (here 0..7) give two predictions, not three.
    const two = blobs(1, 5);
    await writeFile(join(dir, "two.csv"), csv({ ...two, features: two.features.subarray(0, 2 * DIMS), labels: two.labels.subarray(0, 2), length: 2 }, numbered(DIMS), false));
    assert.equal((await predictState({ state: join(dir, "numbers-state"), data: { path: join(dir, "two.csv") } })).classes.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an explicit header setting: true reads any numbered header as a header, false reads line 1 as data; auto refuses to guess", async () => {
  const dir = await folder();
  try {
    const train = blobs(10, 1);
    // Numbered from 1 (or e.g. wavelengths): could be column names or integer data, so "auto" must not guess.
    await writeFile(join(dir, "one-based.csv"), csv(train, numbered(DIMS + 1, 1)));
    await writeFile(join(dir, "bare.csv"), csv(train, null));
    const base = workflowConfig({ maxEpochs: 1 });
    const auto = parseConfig(base);
    await assert.rejects(
      updateFromConfig({ config: auto, data: { path: join(dir, "one-based.csv") }, outputState: join(dir, "auto") }),
      (error: unknown) => error instanceof DataError && /one-based\.csv: line 1 \(1,2,3,4,5,6,7,8,\.\.\.\) could be a header.*data\.header.*--header/.test(error.message),
    );
    assert.equal(existsSync(join(dir, "auto")), false, "nothing written");
    const yes = await updateFromConfig({ config: parseConfig({ ...base, data: { header: true } }), data: { path: join(dir, "one-based.csv") }, outputState: join(dir, "yes") });
    assert.deepEqual([yes.data.items, yes.data.read.header, yes.data.read.headerRule], [train.length, true, "setting"]);
    const no = await updateFromConfig({ config: parseConfig({ ...base, data: { header: false } }), data: { path: join(dir, "bare.csv") }, outputState: join(dir, "no") });
    assert.deepEqual([no.data.items, no.data.read.header, no.data.read.labelColumn], [train.length, false, { index: DIMS }]);
    assert.throws(() => parseConfig({ ...base, data: { header: "yes" } }), /data\.header/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the state remembers how its data was read; evaluate and predict read files the same way unless overridden", async () => {
  const dir = await folder();
  try {
    const train = blobs(10, 1);
    const test = blobs(3, 2);
    await writeFile(join(dir, "train.csv"), csv(train, numbered(DIMS + 1, 1)));
    await writeFile(join(dir, "test.csv"), csv(test, numbered(DIMS + 1, 1)));
    await writeFile(join(dir, "new.csv"), csv(test, numbered(DIMS, 1), false));
    await writeFile(join(dir, "bare.csv"), csv(test, null, false));
    await writeFile(join(dir, "bare-train.csv"), csv(train, null));
    const config = parseConfig({ ...workflowConfig({ maxEpochs: 1 }), data: { header: true, labelColumn: DIMS } });
    const v1 = join(dir, "v1");
    await updateFromConfig({ config, data: { path: join(dir, "train.csv") }, outputState: v1 });
    const manifest = JSON.parse(await readFile(join(v1, "manifest.json"), "utf8")) as { data: { data: unknown } };
    // With the training file's column names and label column (the header is 1..9: the label is "9").
    const settings = {
      header: true, headerRead: true, delimiterRead: ",", labelColumn: DIMS, layout: "flat", featureNames: numbered(DIMS, 1), labelColumnRead: { index: DIMS, name: "9" },
    };
    assert.deepEqual(manifest.data.data, settings);
    assert.deepEqual((await inspectState(v1)).dataSettings, settings);

    // No settings given: line 1 is the training file's column names, so a header (under "auto" alone these files are an error).
    const evaluation = await evaluateState({ state: v1, data: { path: join(dir, "test.csv") } });
    assert.deepEqual([evaluation.items, evaluation.read.header, evaluation.read.headerRule], [test.length, true, "feature-names"]);
    const predictions = await predictState({ state: v1, data: { path: join(dir, "new.csv") } });
    assert.equal(predictions.classes.length, test.length);
    // Overridden per call.
    const bare = await predictState({ state: v1, data: { path: join(dir, "bare.csv") }, format: { header: false } });
    assert.deepEqual(bare.classes, predictions.classes);
    // "auto" given: the names still settle line 1 (they are the state's, not a guess).
    assert.equal((await predictState({ state: v1, data: { path: join(dir, "new.csv") }, format: { header: "auto" } })).classes.length, test.length);

    // An update with other settings stores those.
    const v2 = join(dir, "v2");
    await updateFromConfig({ config: parseConfig({ ...workflowConfig({ maxEpochs: 1 }), data: { header: false } }), data: { path: join(dir, "bare-train.csv") }, inputState: v1, outputState: v2 });
    assert.equal((await predictState({ state: v2, data: { path: join(dir, "bare.csv") } })).classes.length, test.length);

    // Settings in the manifest are checked: an edit sealed with a matching checksum reaches the settings' schema.
    await editManifestSealed(v1, (edited) => {
      edited.data["data"] = { header: "maybe" };
    });
    await assert.rejects(evaluateState({ state: v1, data: { path: join(dir, "test.csv") } }), (error: unknown) => error instanceof StateError && /manifest\.json.*data settings/.test(error.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("ModelUpdater: dataSettings of an update go into the manifest, and a resumed update given none keeps them", async () => {
  const dir = await folder();
  try {
    const spec = { type: "mlp" as const, inputShape: [DIMS], hidden: [8], classes: 6 };
    const options = { maxEpochs: 1, batchSize: 16, seed: 1, backend: "wasm" as const };
    const manifestData = async (state: string) => (JSON.parse(await readFile(join(state, "manifest.json"), "utf8")) as { data: { data?: unknown } }).data.data;
    await expectNoTensorLeak(async () => {
      const first = createUpdater("fine-tuning", { ...options, model: spec, outputStateFolder: join(dir, "a") });
      await first.update(blobs(4, 1), { dataSettings: { header: true, layout: "flat" } });
      first.model.dispose();
      const resumed = createUpdater("fine-tuning", { ...options, model: spec, inputStateFolder: join(dir, "a"), outputStateFolder: join(dir, "b") });
      await resumed.update(blobs(4, 2));
      resumed.model.dispose();
      const plain = createUpdater("fine-tuning", { ...options, model: spec, outputStateFolder: join(dir, "c") });
      await plain.update(blobs(4, 1));
      plain.model.dispose();
    });
    assert.deepEqual(await manifestData(join(dir, "a")), { header: true, layout: "flat" });
    assert.deepEqual(await manifestData(join(dir, "b")), { header: true, layout: "flat" });
    assert.equal(await manifestData(join(dir, "c")), undefined, "no settings given, none stored");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("CR-only line ends are an error naming the file on every workflow path: training, validation, evaluate, predict", async () => {
  const dir = await folder();
  try {
    const train = blobs(4, 1);
    const config = parseConfig(workflowConfig({ maxEpochs: 1 }));
    const header = [...numbered(DIMS), "label"];
    await writeFile(join(dir, "train.csv"), csv(train, header));
    await writeFile(join(dir, "mac.csv"), csv(train, header).replaceAll("\n", "\r"));
    await writeFile(join(dir, "mac-new.csv"), csv(train, null, false).replaceAll("\n", "\r"));
    const crError = (file: string) => (error: unknown) =>
      error instanceof DataError && error.message.startsWith(`${join(dir, file)}: line 1 ends with a lone carriage return (CR, old Mac line ends)`);
    await assert.rejects(updateFromConfig({ config, data: { path: join(dir, "mac.csv") }, outputState: join(dir, "out") }), crError("mac.csv"));
    await assert.rejects(
      updateFromConfig({ config, data: { path: join(dir, "train.csv") }, val: { path: join(dir, "mac.csv") }, outputState: join(dir, "out") }),
      crError("mac.csv"),
    );
    assert.equal(existsSync(join(dir, "out")), false, "nothing written");
    await updateFromConfig({ config, data: { path: join(dir, "train.csv") }, outputState: join(dir, "v1") });
    await assert.rejects(evaluateState({ state: join(dir, "v1"), data: { path: join(dir, "mac.csv") } }), crError("mac.csv"));
    await assert.rejects(predictState({ state: join(dir, "v1"), data: { path: join(dir, "mac-new.csv") } }), crError("mac-new.csv"));
    await assert.rejects(predictState({ state: join(dir, "v1"), data: { path: join(dir, "mac.csv") } }), crError("mac.csv"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the state remembers how line 1 of its training file was read, so evaluate and predict on a file without (or with) a header lose no row", async () => {
  const dir = await folder();
  try {
    const train = blobs(10, 1);
    const test = blobs(3, 2);
    const base = workflowConfig({ maxEpochs: 1 });
    // (a) Trained with header true on a file that has one; the new file has none: its line 1 is a sample.
    await writeFile(join(dir, "named-train.csv"), csv(train, [...numbered(DIMS), "label"]));
    await writeFile(join(dir, "bare.csv"), csv(test, null, false));
    await writeFile(join(dir, "bare-labelled.csv"), csv(test, null));
    const named = join(dir, "named");
    await updateFromConfig({ config: parseConfig({ ...base, data: { header: true } }), data: { path: join(dir, "named-train.csv") }, outputState: named });
    const bare = await predictState({ state: named, data: { path: join(dir, "bare.csv") } });
    assert.deepEqual([bare.classes.length, bare.read.rows, bare.read.header, bare.read.headerRule], [test.length, test.length, false, "numbers"]);
    assert.equal((await evaluateState({ state: named, data: { path: join(dir, "bare-labelled.csv") } })).items, test.length);
    // A state written before headerRead existed (header: true stored as given) reads the same.
    await editManifestSealed(named, (edited) => {
      delete edited.data["data"].headerRead;
    });
    assert.equal((await predictState({ state: named, data: { path: join(dir, "bare.csv") } })).classes.length, test.length);
    // header true given for this file is an error naming the file and the fix, not a lost row.
    await assert.rejects(
      predictState({ state: named, data: { path: join(dir, "bare.csv") }, format: { header: true } }),
      (error: unknown) => error instanceof DataError && /bare\.csv: line 1 .* is a row of numbers, not a header, but header is true \(--header or the config's data\.header\): set header false/.test(error.message),
    );

    // (b) Trained on a headerless file (auto: no header); a new file whose first sample is 1,2,...,n (whole numbers,
    // increasing: auto cannot tell) keeps it. pandas' 0,1,...,n-1 above rows with decimals stays a header.
    await writeFile(join(dir, "bare-train.csv"), csv(train, null));
    const plain = join(dir, "plain");
    await updateFromConfig({ config: parseConfig(base), data: { path: join(dir, "bare-train.csv") }, outputState: plain });
    const manifest = JSON.parse(await readFile(join(plain, "manifest.json"), "utf8")) as { data: { data: unknown } };
    assert.deepEqual(manifest.data.data, { header: "auto", headerRead: false, delimiterRead: ",", layout: "flat" });
    await writeFile(join(dir, "counting.csv"), [numbered(DIMS).map((i) => Number(i) + 1).join(","), csv(test, null, false)].join("\n"));
    const counting = await predictState({ state: plain, data: { path: join(dir, "counting.csv") } });
    assert.deepEqual([counting.classes.length, counting.read.header, counting.read.headerRule], [test.length + 1, false, "remembered"]);
    await writeFile(join(dir, "pandas.csv"), [numbered(DIMS).join(","), csv(test, null, false)].join("\n"));
    const pandas = await predictState({ state: plain, data: { path: join(dir, "pandas.csv") } });
    assert.deepEqual([pandas.classes.length, pandas.read.header, pandas.read.headerRule], [test.length, true, "column-numbers"]);
    // A named header is still a header.
    await writeFile(join(dir, "named-new.csv"), csv(test, numbered(DIMS).map((i) => `f${i}`), false));
    assert.equal((await predictState({ state: plain, data: { path: join(dir, "named-new.csv") } })).classes.length, test.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a pandas index column gets an error that says so", async () => {
  const dir = await folder();
  try {
    const train = blobs(4, 1);
    const state = join(dir, "state");
    await writeFile(join(dir, "train.csv"), csv(train, null));
    await updateFromConfig({ config: parseConfig(workflowConfig({ maxEpochs: 1 })), data: { path: join(dir, "train.csv") }, outputState: state });
    // pandas' to_csv with its index: an unnamed first column, one feature too many.
    const indexed = (labels: boolean) => csv(train, ["", ...numbered(DIMS), ...(labels ? ["label"] : [])], labels).split("\n").map((line, i) => (i === 0 || line === "" ? line : `${i - 1},${line}`)).join("\n");
    await writeFile(join(dir, "indexed.csv"), indexed(true));
    await writeFile(join(dir, "indexed-new.csv"), indexed(false));
    const hint = /samples have shape \[9\] but the model takes \[8\]; the first column has no name: a pandas index\? write with index=False or drop it/;
    await assert.rejects(evaluateState({ state, data: { path: join(dir, "indexed.csv") } }), hint);
    await assert.rejects(predictState({ state, data: { path: join(dir, "indexed-new.csv") } }), hint);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
