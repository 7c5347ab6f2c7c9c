import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import fc from "fast-check";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, data, spec, weightsOf, DIMS } from "./replay_fixtures.js";
import { classHistogram, concatDatasets } from "../../src/data/dataset_ops.js";
import { ModelError, OptionsError } from "../../src/errors.js";
import { herdingSelection } from "../../src/memory/herding.js";
import { buildModel } from "../../src/model/continual_model.js";
import { computeClassMeans, nearestClassMeanScores } from "../../src/model/nearest_class_mean.js";
import { mlp } from "../../src/model/spec.js";
import { extractFeaturesArray } from "../../src/training/features.js";
import { predict } from "../../src/training/predict.js";
import { ICaRLModelUpdater } from "../../src/updaters/icarl.js";
import { icarlLoss } from "../../src/updaters/icarl_loss.js";
import { createUpdater } from "../../src/updaters/registry.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { loadStateModel } from "../../src/workflow/state_model.js";

before(async () => {
  await useBackend("wasm");
});

const make = (memorySize: number) => (options: ModelUpdaterOptions) => new ICaRLModelUpdater({ ...options, memorySize });

/** BCE of sigmoid(z) against target t, in float64, the textbook way. */
function bce(z: number, t: number): number {
  const p = 1 / (1 + Math.exp(-z));
  return -(t * Math.log(p) + (1 - t) * Math.log(1 - p));
}
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

test("icarlLoss: mean BCE over outputs of one-hot targets, old classes' targets the previous model's sigmoid outputs", async () => {
  const logits = [[1, -2, 0.5], [0, 3, -1], [-0.5, 0.25, 2]];
  const labels = [0, 2, 1];
  // The previous model had 2 outputs; class 1 is old (class 0 is not: only listed classes are distilled).
  const old = [[2, -1], [0.5, 0], [-3, 1.5]];
  const targets = [
    [1, sigmoid(-1), 0],
    [0, sigmoid(0), 1],
    [0, sigmoid(1.5), 0], // an exemplar of old class 1 learns the old model's opinion, not its label
  ];
  const expected = logits.map((row, r) => row.reduce((s, z, c) => s + bce(z, targets[r]![c]!), 0) / 3);
  const plain = logits.map((row, r) => row.reduce((s, z, c) => s + bce(z, c === labels[r] ? 1 : 0), 0) / 3);
  const before = tf.memory().numTensors;
  const z = tf.tensor2d(logits);
  const y = tf.tensor1d(labels, "int32");
  const zOld = tf.tensor2d(old);
  const withOld = icarlLoss(z, y, zOld, [1]);
  const first = icarlLoss(z, y, null, []);
  const got = Array.from(await withOld.data());
  const gotPlain = Array.from(await first.data());
  tf.dispose([z, y, zOld, withOld, first]);
  assert.equal(tf.memory().numTensors, before, "icarlLoss leaked tensors");
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6, `row ${i}: ${v} vs ${expected[i]}`));
  gotPlain.forEach((v, i) => assert.ok(Math.abs(v - plain[i]!) < 1e-6, `row ${i} (no old model): ${v} vs ${plain[i]}`));
  // Finite for huge logits (the stable form; the textbook one overflows).
  const [bz, by] = [tf.tensor2d([[-80, 80]]), tf.tensor1d([0], "int32")];
  const big = icarlLoss(bz, by, null, []);
  assert.ok(Math.abs((await big.data())[0]! - 80) < 1e-3, `huge logits: ${(await big.data())[0]} vs 80`);
  tf.dispose([bz, by, big]);
});

test("icarlLoss refuses old classes without old logits for them", () => {
  const z = tf.tensor2d([[1, 2, 3]]);
  const y = tf.tensor1d([0], "int32");
  const old = tf.tensor2d([[1, 2]]);
  assert.throws(() => icarlLoss(z, y, null, [0]), RangeError);
  assert.throws(() => icarlLoss(z, y, old, [2]), RangeError);
  tf.dispose([z, y, old]);
});

test("herdingSelection: the order computed by hand on four 2-D items", () => {
  // Normalised: x0 (1,0), x1 (0,1), x2 (3,4)/5 = (0.6,0.8), x3 (0.7,2.4)/2.5 = (0.28,0.96); mean (0.47, 0.69).
  // Pick 1: argmax mu.x = x2 (0.834; x3 0.794, x1 0.69, x0 0.47).
  // Pick 2: w = 2mu - x2 = (0.34, 0.58): x3 0.652, x1 0.58, x0 0.34 -> x3.
  // Pick 3: w = 3mu - x2 - x3 = (0.53, 0.31): x0 0.53, x1 0.31 -> x0. Pick 4: x1.
  const features = [1, 0, 0, 1, 3, 4, 0.7, 2.4];
  assert.deepEqual(Array.from(herdingSelection(features, 4, 2, 4)), [2, 3, 0, 1]);
  assert.deepEqual(Array.from(herdingSelection(features, 4, 2, 2)), [2, 3]);
  assert.deepEqual(Array.from(herdingSelection(features, 4, 2, 9)), [2, 3, 0, 1]);
  assert.deepEqual(Array.from(herdingSelection(features, 4, 2, 0)), []);
  assert.throws(() => herdingSelection([1, NaN], 1, 2, 1), RangeError);
  assert.throws(() => herdingSelection(features, 4, 2, -1), RangeError);
});

test("herdingSelection: min(m, n) distinct items, the first the one closest to the normalised mean", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 15 }),
      // Eighths in [-4, 4]: zeros, ties and duplicates happen, denormals (whose squares underflow) do not.
      fc.array(fc.integer({ min: -32, max: 32 }).map((v) => v / 8), { minLength: 60, maxLength: 60 }),
      (n, d, m, pool) => {
        const features = pool.slice(0, n * d);
        const picks = Array.from(herdingSelection(features, n, d, m));
        assert.equal(picks.length, Math.min(m, n));
        assert.equal(new Set(picks).size, picks.length);
        assert.ok(picks.every((i) => Number.isInteger(i) && i >= 0 && i < n));
        if (picks.length === 0) return;
        const unit = Array.from({ length: n }, (_, r) => {
          const row = features.slice(r * d, (r + 1) * d);
          const norm = Math.hypot(...row);
          return norm === 0 ? row.map(() => 0) : row.map((v) => v / norm);
        });
        const mean = Array.from({ length: d }, (_, j) => unit.reduce((s, row) => s + row[j]!, 0) / n);
        const distance = (row: number[]) => Math.hypot(...row.map((v, j) => v - mean[j]!));
        const best = Math.min(...unit.map(distance));
        assert.ok(distance(unit[picks[0]!]!) <= best + 1e-9, `first pick ${picks[0]} is not the closest to the mean`);
      },
    ),
    { numRuns: 200 },
  );
});

test("computeClassMeans and nearestClassMeanScores on hand-made features", async () => {
  // Class 1: (1,0) and (0,2) normalise to (1,0), (0,1): mean (0.5,0.5) -> (1,1)/sqrt2. Class 0: (3,0) -> (1,0).
  const means = computeClassMeans([1, 0, 0, 2, 3, 0], [1, 1, 0], 2);
  assert.deepEqual(means.classes, [0, 1]);
  const r = Math.SQRT1_2;
  Array.from(means.values).forEach((v, i) => assert.ok(Math.abs(v - [1, 0, r, r][i]!) < 1e-7));
  // Queries: (2,0.1) nearest class 0; (0.1,3) nearest class 1; zero stays zero: distance 1 to both.
  const queries = [[2, 0.1], [0.1, 3], [0, 0]];
  const expected = queries.map((q) => {
    const norm = Math.hypot(...q);
    const u = norm === 0 ? [0, 0] : q.map((v) => v / norm);
    return [[1, 0], [r, r]].map((m) => -Math.hypot(u[0]! - m[0]!, u[1]! - m[1]!));
  });
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(queries);
  const scores = nearestClassMeanScores(x, means);
  const got = (await scores.array()) as number[][];
  tf.dispose([x, scores]);
  assert.equal(tf.memory().numTensors, before);
  got.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - expected[i]![k]!) < 1e-6, `[${i}][${k}] ${v} vs ${expected[i]![k]}`)));
  const wrong = tf.tensor2d([[1, 2, 3]]);
  assert.throws(() => nearestClassMeanScores(wrong, means), ModelError);
  wrong.dispose();
});

test("icarl: exemplars balanced over the classes seen, herded on features; predict uses the class means", async () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = new ICaRLModelUpdater({ ...base, model, memorySize: 30 });
  await updater.update(data.train[0]!);
  assert.deepEqual(classHistogram(updater.exemplars!).slice(0, 2), [15, 15]);
  assert.deepEqual(updater.classMeans!.classes, [0, 1]);
  await updater.update(data.train[1]!);
  // 30 over 4 classes: 7 each (floor), the old classes reduced to their first 7 picks.
  const histogram = classHistogram(updater.exemplars!);
  assert.deepEqual(histogram.slice(0, 4), [7, 7, 7, 7]);
  assert.deepEqual(updater.classMeans!.classes, [0, 1, 2, 3]);
  // New classes' exemplars are the herding picks on the current model's features, in order.
  const newClass = data.train[1]!;
  const rows = Array.from(newClass.labels.keys()).filter((i) => newClass.labels[i] === 2);
  const features = await extractFeaturesArray(model, { ...newClass, features: new Float32Array(rows.flatMap((i) => Array.from(newClass.features.subarray(i * DIMS, (i + 1) * DIMS)))), labels: new Int32Array(rows.length).fill(2), length: rows.length }, 64);
  const picks = herdingSelection(features.values, rows.length, features.width, 7);
  const stored = updater.exemplars!;
  const first = stored.labels.indexOf(2);
  Array.from(picks).forEach((p, k) =>
    assert.deepEqual(Array.from(stored.features.subarray((first + k) * DIMS, (first + k + 1) * DIMS)), Array.from(newClass.features.subarray(rows[p]! * DIMS, (rows[p]! + 1) * DIMS))),
  );
  // predict with the class means = nearest mean by hand.
  const test4 = concatDatasets([data.test[0]!, data.test[1]!]);
  const { classes } = await predict(model, test4, { classMeans: updater.classMeans });
  const f = await extractFeaturesArray(model, test4, 64);
  const means = updater.classMeans!;
  for (let i = 0; i < test4.length; i += 17) {
    const row = Array.from(f.values.subarray(i * f.width, (i + 1) * f.width));
    const norm = Math.hypot(...row) || 1;
    const dist = means.classes.map((_, k) => Math.hypot(...row.map((v, j) => v / norm - means.values[k * f.width + j]!)));
    assert.equal(classes[i], means.classes[dist.indexOf(Math.min(...dist))]);
  }
  // Probabilities: 0 for the classes without a mean (4, 5), rows sum to 1.
  const p = (await predict(model, data.test[0]!, { classMeans: means, probabilities: true })).probabilities!;
  assert.equal(p[4], 0);
  assert.equal(p[5], 0);
  assert.ok(Math.abs(p.subarray(0, 6).reduce((s, v) => s + v, 0) - 1) < 1e-5);
  model.dispose();
});

test("icarl beats fine-tuning on the blobs class-incremental setting (nearest class mean), no tensor leaks", async () => {
  const result = await checkBeatsFineTuning(make(60), { margin: 0.3, minOld: 0.7, minNew: 0.7 });
  assert.ok(result.old > result.fineTuningOld);
});

test("icarl: state round trip is bit-identical to an uninterrupted run; the state gives its class means to predict", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-icarl-"));
  try {
    const straight = new ICaRLModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 20 });
    await straight.update(data.train[0]!, { valDataset: data.test[0]! });
    await straight.update(data.train[1]!, { valDataset: data.test[1]! });

    const first = new ICaRLModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 20, outputStateFolder: join(dir, "v1") });
    await first.update(data.train[0]!, { valDataset: data.test[0]! });
    first.model.dispose();

    const resumed = new ICaRLModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 20, inputStateFolder: join(dir, "v1"), outputStateFolder: join(dir, "v2") });
    await resumed.update(data.train[1]!, { valDataset: data.test[1]! });
    assert.deepEqual(await weightsOf(resumed.model), await weightsOf(straight.model), "weights differ from the uninterrupted run");
    assert.deepEqual(resumed.exemplars, straight.exemplars, "exemplars differ");
    assert.deepEqual(resumed.classMeans, straight.classMeans, "class means differ");

    const loaded = await loadStateModel(join(dir, "v2"), "wasm");
    assert.deepEqual(loaded.classMeans, straight.classMeans);
    const a = await predict(loaded.model, data.test[1]!, { classMeans: loaded.classMeans });
    const b = await predict(straight.model, data.test[1]!, { classMeans: straight.classMeans });
    assert.deepEqual(a.classes, b.classes);
    loaded.model.dispose();
    straight.model.dispose();
    resumed.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("icarl refuses multi-head models, whole LayersModels, too small a memory and bad options", async () => {
  assert.throws(() => new ICaRLModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 0 }), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));
  assert.throws(() => createUpdater("icarl", { ...base, model: spec }), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));

  const multi = buildModel(mlp({ inputShape: [DIMS], hidden: [8], classes: 6, multiHead: true }), { seed: 0 });
  await assert.rejects(new ICaRLModelUpdater({ ...base, model: multi, memorySize: 10 }).update(data.train[0]!, { taskId: "a" }), (e: unknown) => e instanceof ModelError && /single-head/.test(e.message));
  multi.dispose();

  const layers = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [DIMS], units: 6 })] });
  await assert.rejects(new ICaRLModelUpdater({ ...base, model: layers, memorySize: 10 }).update(data.train[0]!), (e: unknown) => e instanceof ModelError && /ModelSpec/.test(e.message));

  const small = new ICaRLModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 3 });
  await small.update(data.train[0]!);
  await assert.rejects(small.update(data.train[1]!), (e: unknown) => e instanceof OptionsError && /at least 4/.test(e.message));
  small.model.dispose();
});

test("icarl keeps a frozen body layer bit for bit (the previous-model copy too), without tensor leaks", async () => {
  const model = buildModel(spec, { seed: 0 });
  model.freezeWeights(["dense_0/kernel", "dense_0/bias"]);
  const valuesOf = async () => {
    const { model: layers } = model.toLayersModel();
    return Promise.all(layers.weights.filter((w) => w.originalName.startsWith("dense_0/")).map(async (w) => Float32Array.from(await w.read().data())));
  };
  const before = await valuesOf();
  const updater = new ICaRLModelUpdater({ ...base, model, memorySize: 20 });
  await updater.update(data.train[0]!);
  const tensors = tf.memory().numTensors;
  await updater.update(data.train[1]!);
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked in update 2");
  assert.deepEqual(await valuesOf(), before);
  assert.deepEqual(model.frozenWeightNames().sort(), ["dense_0/bias", "dense_0/kernel"]);
  model.dispose();
});

test("icarl with growClasses: the previous model (fewer outputs) still distils its classes; new classes get means", async () => {
  const model = buildModel(mlp({ inputShape: [DIMS], hidden: [32], classes: 2 }), { seed: 0 });
  const updater = new ICaRLModelUpdater({ ...base, model, memorySize: 20, growClasses: true });
  await updater.update({ ...data.train[0]!, numClasses: 2 });
  await updater.update({ ...data.train[1]!, numClasses: 4 });
  assert.equal(model.numClasses, 4);
  assert.deepEqual(updater.classMeans!.classes, [0, 1, 2, 3]);
  assert.equal(updater.exemplars!.numClasses, 4);
  const { classes } = await predict(model, { ...data.test[1]!, numClasses: 4 }, { classMeans: updater.classMeans });
  assert.ok(classes.every((c) => c < 4));
  model.dispose();
});

test("icarl's validation scores what it predicts with: a last phase gives the nearest-class-mean accuracy over every validation set (H13)", async () => {
  const updater = new ICaRLModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 60 });
  for (const t of [0, 1]) await updater.update(data.train[t]!, { valDataset: data.test[t]! });
  const phases = updater.lastUpdatePhases;
  assert.deepEqual(phases.map((p) => p.phase), ["icarl", "nearest-class-mean"]);
  // Computed apart: the class means' predictions on both validation sets, pooled.
  let correct = 0;
  let total = 0;
  for (const t of [0, 1]) {
    const { classes } = await predict(updater.model, data.test[t]!, { classMeans: updater.classMeans });
    classes.forEach((c, i) => (correct += c === data.test[t]!.labels[i] ? 1 : 0));
    total += classes.length;
  }
  const last = phases.at(-1)!;
  assert.deepEqual(last.history, [{ val_accuracy: correct / total }]);
  assert.deepEqual([last.epochsRun, last.validatedOn], [0, [0, 1]]);
  // The logits' accuracy the training phase logged is another number in general; the NCM one is what predict gives.
  assert.equal(typeof phases[0]!.history.at(-1)!["val_accuracy"], "number");
  updater.model.dispose();
});
