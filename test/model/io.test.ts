import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ContinualModel, DEFAULT_TASK_ID, buildModel } from "../../src/model/continual_model.js";
import { fileSystemIO, loadModel, saveModel } from "../../src/model/io.js";
import { cnn, mlp } from "../../src/model/spec.js";
import { ModelError } from "../../src/errors.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

let scratch = "";
let counter = 0;
const freshDir = () => join(scratch, `model-${counter++}`);

before(async () => {
  await useBackend("wasm");
  scratch = mkdtempSync(join(tmpdir(), "relearn-io-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

function logitsOf(model: ContinualModel, x: tf.Tensor, taskId?: string): Float32Array {
  const logits = model.getLogits(x, taskId);
  const values = Float32Array.from(logits.dataSync());
  logits.dispose();
  return values;
}

async function expectModelError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ModelError, `expected ModelError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test("single-head round trip: identical predictions, spec and seed; plain tfl.loadLayersModel loads it too", async () => {
  await expectNoTensorLeak(async () => {
    const spec = cnn({ inputShape: [6, 6, 1], conv: [{ filters: 2, kernelSize: 3, pool: true }], dense: [4], classes: 3, batchNorm: true, dropout: 0.3 });
    const model = buildModel(spec, { seed: 5 });
    const x = tf.randomNormal([4, 6, 6, 1], 0, 1, "float32", 3);
    model.getLogits(x, undefined, true).dispose(); // non-trivial batch-norm statistics
    const dir = freshDir();
    await saveModel(model, dir);

    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.spec, spec);
    assert.equal(loaded.seed, 5);
    assert.equal(loaded.multiHead, false);
    assert.deepEqual(loaded.taskIds(), [DEFAULT_TASK_ID]);
    assert.equal(loaded.numParameters(), model.numParameters());
    assert.deepEqual(logitsOf(loaded, x), logitsOf(model, x));

    const plain = await tfl.loadLayersModel(fileSystemIO(dir));
    assert.equal(plain.outputs.length, 1);
    const predicted = plain.predict(x) as tf.Tensor;
    assert.deepEqual(Float32Array.from(predicted.dataSync()), logitsOf(model, x));
    const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
    assert.equal(json.format, "layers-model");
    assert.equal(json.userDefinedMetadata.relearn.source, "spec");
    tf.dispose([x, predicted]);
    plain.dispose();
    loaded.dispose();
    model.dispose();
  });
});

test("multi-head round trip: heads restored by task id, each with identical logits; new heads can be added", async () => {
  await expectNoTensorLeak(async () => {
    const model = buildModel(mlp({ inputShape: [5], hidden: [6], classes: 3, multiHead: true }), { seed: 2 });
    for (const taskId of ["first", "second task", "x/y"]) model.ensureHead(taskId);
    const dir = freshDir();
    await saveModel(model, dir);
    const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    assert.equal(json.modelTopology.config.output_layers.length, 3);

    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.taskIds(), ["first", "second task", "x/y"]);
    const x = tf.randomNormal([2, 5], 0, 1, "float32", 4);
    for (const taskId of loaded.taskIds()) assert.deepEqual(logitsOf(loaded, x, taskId), logitsOf(model, x, taskId));
    // A new head on the loaded model is the one the original would get (same seed, same task id).
    loaded.ensureHead("third");
    model.ensureHead("third");
    assert.deepEqual(logitsOf(loaded, x, "third"), logitsOf(model, x, "third"));
    assert.equal(loaded.trainableVariables("third").length, 4);
    // Weight positions survive the round trip: the same seed re-initialises both alike.
    loaded.reinitialize(77);
    model.reinitialize(77);
    for (const taskId of model.taskIds()) assert.deepEqual(logitsOf(loaded, x, taskId), logitsOf(model, x, taskId));
    tf.dispose(x);
    loaded.dispose();
    model.dispose();
  });
});

test("a linear model (no hidden layer) round-trips", async () => {
  await expectNoTensorLeak(async () => {
    const model = buildModel(mlp({ inputShape: [3], hidden: [], classes: 2 }), { seed: 6 });
    const dir = freshDir();
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    const x = tf.randomNormal([2, 3], 0, 1, "float32", 9);
    assert.deepEqual(logitsOf(loaded, x), logitsOf(model, x));
    tf.dispose(x);
    loaded.dispose();
    model.dispose();
  });
});

test("a multi-head model with no head yet round-trips as its body", async () => {
  await expectNoTensorLeak(async () => {
    const model = buildModel(mlp({ inputShape: [3], hidden: [2], classes: 2, multiHead: true }), { seed: 1 });
    const dir = freshDir();
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.taskIds(), []);
    loaded.ensureHead("a");
    model.ensureHead("a");
    const x = tf.ones([1, 3]);
    assert.deepEqual(logitsOf(loaded, x, "a"), logitsOf(model, x, "a"));
    tf.dispose(x);
    loaded.dispose();
    model.dispose();
  });
});

test("a user LayersModel round-trips, and a plain tfjs model folder loads as a user model", async () => {
  await expectNoTensorLeak(async () => {
    const layersModel = tfl.sequential({
      layers: [tfl.layers.dense({ units: 4, inputShape: [3], activation: "tanh" }), tfl.layers.dense({ units: 2 })],
    });
    const model = ContinualModel.fromLayersModel(layersModel, { seed: 8 });
    const dir = freshDir();
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    assert.equal(loaded.spec, undefined);
    assert.equal(loaded.seed, 8);
    const x = tf.randomNormal([3, 3], 0, 1, "float32", 1);
    assert.deepEqual(logitsOf(loaded, x), logitsOf(model, x));

    const plainDir = freshDir();
    await layersModel.save(fileSystemIO(plainDir));
    const wrapped = await loadModel(plainDir);
    assert.equal(wrapped.seed, 0);
    assert.deepEqual(logitsOf(wrapped, x), logitsOf(model, x));
    tf.dispose(x);
    for (const m of [model, loaded, wrapped]) m.dispose();
  });
});

test("files are deterministic: same weights -> same bytes, even after dropout seeds were set", async () => {
  await expectNoTensorLeak(async () => {
    const spec = mlp({ inputShape: [4], hidden: [5], classes: 2, dropout: 0.5 });
    const a = buildModel(spec, { seed: 3 });
    const b = buildModel(spec, { seed: 3 });
    const [dirA, dirB] = [freshDir(), freshDir()];
    await saveModel(a, dirA);
    b.setDropoutSeed(1234);
    await saveModel(b, dirB);
    for (const file of ["model.json", "weights.bin"]) {
      assert.ok(readFileSync(join(dirA, file)).equals(readFileSync(join(dirB, file))), file);
    }
    assert.doesNotMatch(readFileSync(join(dirA, "model.json"), "utf8"), /date|time/i);
    // The current dropout seed is kept for training after the save.
    const x = tf.ones([1, 4]);
    const first = b.getLogits(x, undefined, true);
    b.setDropoutSeed(1234);
    const second = b.getLogits(x, undefined, true);
    assert.deepEqual(first.dataSync(), second.dataSync());
    tf.dispose([x, first, second]);
    a.dispose();
    b.dispose();
  });
});

test("missing, garbage and truncated files are ModelErrors naming the file", async () => {
  await expectNoTensorLeak(async () => {
    const missing = freshDir();
    await expectModelError(loadModel(missing), new RegExp(`model file ${join(missing, "model.json")}: it does not exist`));

    const model = buildModel(mlp({ inputShape: [4], hidden: [3], classes: 2 }), { seed: 1 });
    const dir = freshDir();
    await saveModel(model, dir);
    model.dispose();
    const jsonPath = join(dir, "model.json");
    const weightsPath = join(dir, "weights.bin");
    const goodJson = readFileSync(jsonPath, "utf8");
    const goodWeights = readFileSync(weightsPath);

    truncateSync(weightsPath, goodWeights.length - 4);
    await expectModelError(loadModel(dir), /weights\.bin holds 88 bytes but .*model\.json describes 92/);
    rmSync(weightsPath);
    await expectModelError(loadModel(dir), /weights file .*weights\.bin: it does not exist/);
    writeFileSync(weightsPath, goodWeights);

    writeFileSync(jsonPath, goodJson.slice(0, goodJson.length / 2));
    await expectModelError(loadModel(dir), /model\.json is not valid JSON/);
    writeFileSync(jsonPath, JSON.stringify({ hello: "world" }));
    await expectModelError(loadModel(dir), /model\.json has no modelTopology/);
    writeFileSync(jsonPath, JSON.stringify({ modelTopology: {}, weightsManifest: "weights.bin" }));
    await expectModelError(loadModel(dir), /model\.json has no valid weightsManifest/);
    writeFileSync(jsonPath, JSON.stringify({ ...JSON.parse(goodJson), modelTopology: { class_name: "Nonsense" } }));
    await expectModelError(loadModel(dir), /model\.json does not describe a loadable tfjs LayersModel/);
    const badMetadata = JSON.parse(goodJson);
    badMetadata.userDefinedMetadata.relearn.taskIds = "oops";
    writeFileSync(jsonPath, JSON.stringify(badMetadata));
    await expectModelError(loadModel(dir), /userDefinedMetadata\.relearn is malformed/);
    const wrongHead = JSON.parse(goodJson);
    wrongHead.userDefinedMetadata.relearn.headLayers = ["nowhere"];
    writeFileSync(jsonPath, JSON.stringify(wrongHead));
    await expectModelError(loadModel(dir), /no head layer named "nowhere"/);

    writeFileSync(jsonPath, goodJson);
    const restored = await loadModel(dir);
    restored.dispose();
    assert.ok(existsSync(weightsPath));
  });
});

test("non-finite weights: saveModel refuses to write them, loadModel rejects a weights.bin holding one as corrupt", async () => {
  const model = buildModel(mlp({ inputShape: [3], hidden: [4], classes: 2 }), { seed: 0 });
  await expectNoTensorLeak(async () => {
    const good = freshDir();
    await saveModel(model, good);
    // Every kind of non-finite float32, at a position inside a later weight (not only the first value of the file).
    for (const [bits, shown] of [[0x7fc00000, "NaN"], [0x7f800000, "Infinity"], [0xff800000, "-Infinity"]] as const) {
      const dir = freshDir();
      await saveModel(model, dir);
      const bytes = readFileSync(join(dir, "weights.bin"));
      const index = 3 * 4 + 1; // dense_0/kernel is [3, 4]: its 12 values come first, then its bias
      bytes.writeUInt32LE(bits, index * 4);
      writeFileSync(join(dir, "weights.bin"), bytes);
      await expectModelError(
        loadModel(dir),
        new RegExp(`${join(dir, "weights.bin").replace(/[/\\.]/g, "\\$&")} is corrupt: weight "dense_0/bias" holds ${shown} at index 1`),
      );
    }
    const snapshot = model.snapshotWeights();
    const broken = snapshot.map((w, i) => (i === 1 ? tf.fill(w.shape, NaN) : w.clone()));
    model.restoreWeights(broken);
    const refused = freshDir();
    await expectModelError(saveModel(model, refused), /cannot save to .*: weight "dense_0\/bias" holds NaN at index 0/);
    assert.equal(existsSync(refused), false, "nothing written");
    model.restoreWeights(snapshot);
    tf.dispose([...snapshot, ...broken]);
    (await loadModel(good)).dispose(); // the good folder still loads
  });
  model.dispose();
});

test("saveModel/loadModel keep freezes tfjs does not save: a frozen nested model (its batch norm too) and a weight frozen on its own", async () => {
  const dir = mkdtempSync(join(tmpdir(), "relearn-io-frozen-"));
  try {
    const body = tfl.sequential({ name: "body", layers: [tfl.layers.dense({ inputShape: [3], units: 4, name: "b1" }), tfl.layers.batchNormalization({ name: "bn" })] });
    const input = tfl.input({ shape: [3] });
    const hidden = tfl.layers.dense({ units: 4, name: "mid" }).apply(body.apply(input)) as tfl.SymbolicTensor;
    const model = ContinualModel.fromLayersModel(tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, name: "out" }).apply(hidden) as tfl.SymbolicTensor }));
    body.trainable = false;
    const { model: layers } = model.toLayersModel();
    layers.getLayer("mid").weights.find((w) => w.originalName === "mid/kernel")!.trainable = false;
    const frozen = ["b1/kernel", "b1/bias", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance", "mid/kernel"];
    assert.deepEqual(model.frozenWeightNames().sort(), [...frozen].sort());
    await saveModel(model, dir);
    const meta = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")).userDefinedMetadata.relearn;
    assert.deepEqual([...meta.frozenWeights].sort(), [...frozen].sort());

    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.frozenWeightNames().sort(), [...frozen].sort());
    // Only "mid"'s bias and "out" train; the batch norm is frozen as a layer, so it runs in inference mode in training.
    assert.equal(loaded.trainableVariables().length, 3);
    const { model: loadedLayers } = loaded.toLayersModel();
    const bn = (loadedLayers.getLayer("body") as tfl.LayersModel).getLayer("bn");
    assert.equal(bn.trainable, false);
    model.dispose();
    loaded.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
