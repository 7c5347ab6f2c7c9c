// Re-initialising a model (reinitialize, cloneFresh, and through them every
// updater that starts afresh) keeps frozen weights bit for bit: they are
// pre-trained knowledge no training would restore (issue 10, part 2).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("wasm");
});

type Weight = tfl.LayersModel["weights"][number];

interface Block {
  kind: "dense" | "bn";
  frozen: boolean;
}
interface Architecture {
  blocks: Block[];
  /** Blocks from this index on sit inside a nested Sequential (none when >= blocks.length). */
  nestFrom: number;
  nestFrozen: boolean;
  modelFrozen: boolean;
  seed: number;
}

const architectures: fc.Arbitrary<Architecture> = fc.record({
  blocks: fc.array(fc.record({ kind: fc.constantFrom<"dense" | "bn">("dense", "bn"), frozen: fc.boolean() }), { minLength: 1, maxLength: 4 }),
  nestFrom: fc.nat({ max: 4 }),
  nestFrozen: fc.boolean(),
  // A whole frozen model is rare in practice (nothing would train): one case in eight.
  modelFrozen: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  seed: fc.integer({ min: 0, max: 1000 }),
});

/** A functional model with the architecture's blocks, and for each weight whether a re-init must keep it. */
function buildUserModel(arch: Architecture): { model: tfl.LayersModel; kept: Map<Weight, boolean> } {
  const input = tfl.input({ shape: [4] });
  const makeLayer = (block: Block, i: number) =>
    block.kind === "dense" ? tfl.layers.dense({ units: 4, activation: "relu", name: `b${i}` }) : tfl.layers.batchNormalization({ name: `b${i}` });
  const outer = arch.blocks.slice(0, arch.nestFrom).map(makeLayer);
  const inner = arch.blocks.slice(arch.nestFrom).map((block, j) => makeLayer(block, arch.nestFrom + j));
  let x = input;
  for (const layer of outer) x = layer.apply(x) as tfl.SymbolicTensor;
  let nested: tfl.LayersModel | undefined;
  if (inner.length > 0) {
    const nestedInput = tfl.input({ shape: [4] });
    let y = nestedInput;
    for (const layer of inner) y = layer.apply(y) as tfl.SymbolicTensor;
    nested = tfl.model({ inputs: nestedInput, outputs: y, name: "nested" });
    x = nested.apply(x) as tfl.SymbolicTensor;
  }
  const out = tfl.layers.dense({ units: 3, name: "out" });
  const model = tfl.model({ inputs: input, outputs: out.apply(x) as tfl.SymbolicTensor });

  const kept = new Map<Weight, boolean>();
  [...outer, ...inner].forEach((layer, i) => {
    layer.trainable = !arch.blocks[i]!.frozen;
    const inNested = i >= arch.nestFrom;
    for (const w of layer.weights) kept.set(w, arch.modelFrozen || arch.blocks[i]!.frozen || (inNested && arch.nestFrozen));
  });
  if (nested) nested.trainable = !arch.nestFrozen;
  for (const w of out.weights) kept.set(w, arch.modelFrozen);
  model.trainable = !arch.modelFrozen;
  return { model, kept };
}

/** Gives every weight a value no initializer draws (as pre-trained weights would be). */
function pretrain(model: tfl.LayersModel, seed: number): void {
  model.weights.forEach((w, i) => {
    tf.tidy(() => {
      w.write(tf.add(tf.randomNormal(w.shape as number[], 0, 1, "float32", seed + i), 0.5));
    });
  });
}

const valuesOf = (weights: readonly Weight[]) => weights.map((w) => Float32Array.from(w.read().dataSync()));

/** Kept weights equal their old values bit for bit; every other weight changed. */
function checkAgainst(weights: readonly Weight[], now: Float32Array[], before: Float32Array[], kept: (w: Weight) => boolean): void {
  weights.forEach((w, i) => {
    if (kept(w)) assert.deepEqual(now[i], before[i], `${w.originalName} is frozen and must be kept`);
    else assert.notDeepEqual(now[i], before[i], `${w.originalName} trains (or is a training layer's state) and must be re-drawn`);
  });
}

test("property: reinitialize and cloneFresh keep every frozen weight (layer, nested model, whole model) and re-draw the rest", async () => {
  await expectNoTensorLeak(() =>
    fc.assert(
      fc.property(architectures, (arch) => {
        const { model: layersModel, kept } = buildUserModel(arch);
        const model = ContinualModel.fromLayersModel(layersModel, { seed: arch.seed });
        try {
          pretrain(layersModel, arch.seed);
          const weights = layersModel.weights;
          const before = valuesOf(weights);

          const clone = model.cloneFresh(arch.seed + 1);
          try {
            assert.deepEqual(valuesOf(weights), before, "cloneFresh leaves the source as it was");
            const cloneWeights = clone.toLayersModel().model.weights;
            checkAgainst(weights, valuesOf(cloneWeights), before, (w) => kept.get(w) === true);
            // The clone is frozen where the source is: training it would not move the kept weights.
            const trainable = new Set(clone.trainableVariables());
            cloneWeights.forEach((w, i) => assert.equal(trainable.has(w.read() as tf.Variable), !kept.get(weights[i]!) && weights[i]!.trainable));
          } finally {
            clone.dispose();
          }

          model.reinitialize(arch.seed + 2);
          checkAgainst(weights, valuesOf(weights), before, (w) => kept.get(w) === true);
        } finally {
          model.dispose();
        }
      }),
      { numRuns: 40 },
    ),
  );
});

test("batch-norm moving statistics: reset to 0 and 1 in a training layer, kept in a frozen one", async () => {
  const input = tfl.input({ shape: [3] });
  const frozenBn = tfl.layers.batchNormalization({ name: "frozen_bn" });
  const liveBn = tfl.layers.batchNormalization({ name: "live_bn" });
  const output = tfl.layers.dense({ units: 2, name: "out" }).apply(liveBn.apply(frozenBn.apply(input))) as tfl.SymbolicTensor;
  const model = ContinualModel.fromLayersModel(tfl.model({ inputs: input, outputs: output }), { seed: 0 });
  frozenBn.trainable = false;
  await expectNoTensorLeak(() => {
    // A training-mode forward moves both layers' statistics away from their initial values.
    tf.tidy(() => {
      model.getLogits(tf.randomNormal([16, 3], 5, 3, "float32", 1), undefined, true);
    });
    const frozenBefore = valuesOf(frozenBn.weights);
    model.reinitialize(3);
    assert.deepEqual(valuesOf(frozenBn.weights), frozenBefore);
    const live = new Map(liveBn.weights.map((w) => [w.originalName.split("/").at(-1)!, Float32Array.from(w.read().dataSync())]));
    assert.deepEqual(live.get("moving_mean"), new Float32Array(3));
    assert.deepEqual(live.get("moving_variance"), new Float32Array(3).fill(1));
  });
  model.dispose();
});

test("a frozen body layer of a multi-head spec model survives reinitialize and cloneFresh; every head is re-drawn", async () => {
  const model = ContinualModel.build(mlp({ inputShape: [5], hidden: [6, 4], classes: 3, multiHead: true }), { seed: 0 });
  model.ensureHead("a");
  model.ensureHead("b");
  const { model: whole } = model.toLayersModel();
  // The second hidden layer (a frozen non-first layer), reached through the layers the saved model shares.
  const hidden = whole.layers.filter((l) => l.getClassName() === "Dense" && !l.name.startsWith("head"));
  const frozen = hidden[1]!;
  frozen.trainable = false;
  pretrain(whole, 7);
  const weights = whole.weights;
  const before = valuesOf(weights);
  const isKept = (w: Weight) => frozen.weights.includes(w);
  await expectNoTensorLeak(() => {
    const clone = model.cloneFresh(4);
    const cloneWhole = clone.toLayersModel().model;
    checkAgainst(weights, valuesOf(cloneWhole.weights), before, isKept);
    assert.deepEqual(clone.taskIds(), ["a", "b"]);
    clone.dispose();
    model.reinitialize(4);
    checkAgainst(weights, valuesOf(weights), before, isKept);
  });
  model.dispose();
});

test("a weight frozen on its own (LayerVariable.trainable = false) is kept too, and so in the clone", async () => {
  const dense = tfl.layers.dense({ units: 3, name: "d", inputShape: [2] });
  const layersModel = tfl.sequential({ layers: [dense, tfl.layers.dense({ units: 2, name: "out" })] });
  const model = ContinualModel.fromLayersModel(layersModel, { seed: 0 });
  pretrain(layersModel, 3);
  const kernel = dense.weights[0]!;
  kernel.trainable = false;
  const before = valuesOf(layersModel.weights);
  await expectNoTensorLeak(() => {
    const clone = model.cloneFresh(1);
    checkAgainst(layersModel.weights, valuesOf(clone.toLayersModel().model.weights), before, (w) => w === kernel);
    clone.dispose();
    model.reinitialize(1);
    checkAgainst(layersModel.weights, valuesOf(layersModel.weights), before, (w) => w === kernel);
  });
  model.dispose();
});

test("training forward passes leave a frozen batch norm's statistics alone (also inside a frozen nested model); a live one's move", async () => {
  const input = tfl.input({ shape: [3] });
  const nestedInput = tfl.input({ shape: [3] });
  const nestedBn = tfl.layers.batchNormalization({ name: "nested_bn" });
  const nested = tfl.model({ inputs: nestedInput, outputs: nestedBn.apply(nestedInput) as tfl.SymbolicTensor, name: "nested" });
  const frozenBn = tfl.layers.batchNormalization({ name: "frozen_bn" });
  const liveBn = tfl.layers.batchNormalization({ name: "live_bn" });
  let x = frozenBn.apply(input) as tfl.SymbolicTensor;
  x = nested.apply(x) as tfl.SymbolicTensor;
  x = liveBn.apply(x) as tfl.SymbolicTensor;
  const model = ContinualModel.fromLayersModel(tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(x) as tfl.SymbolicTensor }));
  frozenBn.trainable = false;
  nested.trainable = false;
  const frozenBefore = valuesOf([...frozenBn.weights, ...nestedBn.weights]);
  const liveBefore = valuesOf(liveBn.weights);
  await expectNoTensorLeak(() => {
    tf.tidy(() => {
      model.getLogits(tf.randomNormal([16, 3], 5, 3, "float32", 1), undefined, true);
    });
  });
  assert.deepEqual(valuesOf([...frozenBn.weights, ...nestedBn.weights]), frozenBefore);
  assert.notDeepEqual(valuesOf(liveBn.weights), liveBefore);
  // The frozen layers are themselves again afterwards: their own training-mode call still updates them.
  tf.tidy(() => {
    frozenBn.apply(tf.randomNormal([16, 3], 5, 3, "float32", 2), { training: true });
  });
  assert.notDeepEqual(valuesOf(frozenBn.weights), frozenBefore.slice(0, 4));
  model.dispose();
});
