import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ContinualModel, buildModel } from "../../src/model/continual_model.js";
import { loadModel, saveModel } from "../../src/model/io.js";
import { mlp } from "../../src/model/spec.js";
import { ModelError } from "../../src/errors.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("wasm");
});

/** Each weight by its name, as a flat copy. */
function weightsByName(model: ContinualModel): Map<string, { shape: number[]; values: Float32Array }> {
  const { model: layers } = model.toLayersModel();
  return new Map(layers.weights.map((w) => [w.originalName, { shape: w.shape as number[], values: Float32Array.from(w.read().dataSync()) }]));
}

/** Columns [from, to) of a row-major [rows, cols] matrix (or of a vector, as one row). */
function columns(values: Float32Array, cols: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < values.length / cols; r++) for (let c = from; c < to; c++) out.push(values[r * cols + c]!);
  return out;
}

function logitsOf(model: ContinualModel, x: tf.Tensor, taskId?: string): Float32Array {
  const logits = model.getLogits(x, taskId);
  const values = Float32Array.from(logits.dataSync());
  logits.dispose();
  return values;
}

const spec = mlp({ inputShape: [4], hidden: [6], classes: 3 });

test("growClasses 3 -> 5 keeps the old head columns bit for bit and draws the new ones from the seed", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(spec, { seed: 7 });
    const before = weightsByName(model);
    model.growClasses(5);
    const after = weightsByName(model);
    assert.equal(model.numClasses, 5);
    assert.equal(model.spec?.classes, 5);
    assert.deepEqual(after.get("head/kernel")!.shape, [6, 5]);
    assert.deepEqual(after.get("head/bias")!.shape, [5]);
    // Old columns exactly; the body untouched.
    assert.deepEqual(columns(after.get("head/kernel")!.values, 5, 0, 3), [...before.get("head/kernel")!.values]);
    assert.deepEqual(columns(after.get("head/bias")!.values, 5, 0, 3), [...before.get("head/bias")!.values]);
    assert.deepEqual([...after.get("dense_0/kernel")!.values], [...before.get("dense_0/kernel")!.values]);
    // New kernel columns: glorot-uniform draws (not zeros, within the limit sqrt(6 / (6 + 5))); new bias: zeros.
    const fresh = columns(after.get("head/kernel")!.values, 5, 3, 5);
    const limit = Math.sqrt(6 / (6 + 5));
    assert.ok(fresh.every((v) => Math.abs(v) <= limit) && fresh.some((v) => v !== 0), `new columns ${fresh}`);
    assert.deepEqual(columns(after.get("head/bias")!.values, 5, 3, 5), [0, 0]);
    // The same model grown the same way gives the same weights.
    const twin = buildModel(spec, { seed: 7 });
    twin.growClasses(5);
    const twinWeights = weightsByName(twin);
    for (const [name, w] of after) assert.deepEqual([...twinWeights.get(name)!.values], [...w.values], name);
    // Old classes' logits are unchanged.
    const x = tf.tensor2d([[0.5, -1, 2, 0.25]]);
    const grownLogits = logitsOf(model, x);
    const fresh3 = buildModel(spec, { seed: 7 });
    assert.deepEqual([...grownLogits.slice(0, 3)], [...logitsOf(fresh3, x)]);
    assert.equal(grownLogits.length, 5);
    x.dispose();
    for (const m of [model, twin, fresh3]) m.dispose();
  });
});

test("growClasses grows every head of a multi-head model, each from its own seed", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel({ ...spec, multiHead: true }, { seed: 1 });
    model.ensureHead("a");
    model.ensureHead("b");
    const before = weightsByName(model);
    model.growClasses(4);
    const after = weightsByName(model);
    for (const head of ["head_a", "head_b"]) {
      assert.deepEqual(after.get(`${head}/kernel`)!.shape, [6, 4]);
      assert.deepEqual(columns(after.get(`${head}/kernel`)!.values, 4, 0, 3), [...before.get(`${head}/kernel`)!.values]);
    }
    assert.notDeepEqual(columns(after.get("head_a/kernel")!.values, 4, 3, 4), columns(after.get("head_b/kernel")!.values, 4, 3, 4));
    // A head added after growth has the new width.
    model.ensureHead("c");
    const x = tf.ones([2, 4]);
    assert.equal(logitsOf(model, x, "c").length, 2 * 4);
    x.dispose();
    model.dispose();
  });
});

test("a grown model saves and loads with its new class count and the same logits; training reaches the new head", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-grow-"));
  try {
    const model = buildModel(spec, { seed: 3 });
    model.growClasses(4);
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    assert.equal(loaded.numClasses, 4);
    assert.equal(loaded.spec?.classes, 4);
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    assert.deepEqual([...logitsOf(loaded, x)], [...logitsOf(model, x)]);
    // The training forward (compiled chains) uses the grown head, and its variables are the ones trained.
    const training = model.getLogits(x, undefined, true);
    assert.deepEqual(training.shape, [1, 4]);
    training.dispose();
    const shapes = model.trainableVariables().map((v) => v.shape.join("x"));
    assert.ok(shapes.includes("6x4") && shapes.includes("4"), shapes.join(", "));
    x.dispose();
    model.dispose();
    loaded.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a frozen body stays bit for bit when the head grows; a frozen head cannot grow", async () => {
  const model = buildModel(spec, { seed: 2 });
  model.freezeWeights(["dense_0/kernel", "dense_0/bias"]);
  const before = weightsByName(model);
  model.growClasses(4);
  const after = weightsByName(model);
  assert.deepEqual([...after.get("dense_0/kernel")!.values], [...before.get("dense_0/kernel")!.values]);
  assert.deepEqual(model.frozenWeightNames().sort(), ["dense_0/bias", "dense_0/kernel"]);
  model.dispose();

  const frozenHead = buildModel(spec, { seed: 2 });
  frozenHead.freezeWeights(["head/kernel"]);
  assert.throws(() => frozenHead.growClasses(4), (e: Error) => e instanceof ModelError && /head "head".*frozen.*Unfreeze/.test(e.message));
  assert.equal(frozenHead.numClasses, 3);
  frozenHead.dispose();
});

test("growClasses refuses to shrink and a user's own LayersModel, naming what to do", () => {
  const model = buildModel(spec, { seed: 0 });
  assert.throws(() => model.growClasses(2), (e: Error) => e instanceof ModelError && /from 3 to 2 classes: the class count can only grow/.test(e.message));
  model.growClasses(3); // same count: nothing to do
  assert.equal(model.numClasses, 3);
  model.dispose();
  const own = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3 })] });
  const wrapped = ContinualModel.fromLayersModel(own);
  assert.throws(() => wrapped.growClasses(4), (e: Error) => e instanceof ModelError && /your own LayersModel.*Build it with 4 outputs, or use a ModelSpec/.test(e.message));
  wrapped.dispose();
});
