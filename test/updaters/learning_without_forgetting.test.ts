import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { checkBeatsFineTuning, checkStateRoundTrip, forgettingSetting, spec, weightsOf } from "./replay_fixtures.js";
import type { Dataset } from "../../src/data/dataset.js";
import { buildModel, DEFAULT_TASK_ID } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { evaluateDataset } from "../../src/training/evaluate.js";
import { LearningWithoutForgettingModelUpdater, lwfDistillationLoss } from "../../src/updaters/learning_without_forgetting.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { OptionsError } from "../../src/errors.js";
import { parseConfig } from "../../src/workflow/config.js";
import { createUpdater } from "../../src/updaters/registry.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";
import { data } from "./replay_fixtures.js";

before(async () => {
  await useBackend("wasm");
});

const make = (extra: { alpha?: number; temperature?: number } = {}) => (options: ModelUpdaterOptions) =>
  new LearningWithoutForgettingModelUpdater({ ...options, ...extra });

/** log softmax of `row / t` over the columns `classes`, in float64. */
function logSoftmaxOf(row: readonly number[], classes: readonly number[], t: number): number[] {
  const z = classes.map((c) => row[c]! / t);
  const max = Math.max(...z);
  const logSum = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
  return z.map((v) => v - logSum);
}

/** KL(q || p) of one row over `classes` at temperature t, in float64 (torch kl_div's summand). */
function klOf(student: readonly number[], teacher: readonly number[], classes: readonly number[], t: number): number {
  const logP = logSoftmaxOf(student, classes, t);
  const logQ = logSoftmaxOf(teacher, classes, t);
  return logQ.reduce((s, lq, j) => s + Math.exp(lq) * (lq - logP[j]!), 0);
}

function ce(row: readonly number[], label: number): number {
  const all = row.map((_, c) => c);
  return -logSoftmaxOf(row, all, 1)[label]!;
}

test("lwfDistillationLoss: per row KL(softmax(teacher/T) || softmax(student/T)) over the old classes only (float64 reference)", () => {
  const student = [[1, 2, 0.5, 4], [0, -1, 3, -2], [2.5, 2, 1, 0]];
  const teacher = [[0.5, 1.5, -1], [1, 1, 0], [3, -2, 0.5]];
  const classes = [0, 2];
  const tensorsBefore = tf.memory().numTensors;
  const values = tf.tidy(() => Array.from(lwfDistillationLoss(tf.tensor2d(student), tf.tensor2d(teacher), classes, 2).dataSync()));
  assert.equal(tf.memory().numTensors, tensorsBefore, "tensors leaked");
  values.forEach((value, i) => {
    const expected = klOf(student[i]!, teacher[i]!, classes, 2);
    assert.ok(Math.abs(value - expected) < 1e-6, `row ${i}: ${value} vs ${expected}`);
  });
  // T = 1 over all three shared columns, as another reference.
  const t1 = tf.tidy(() => Array.from(lwfDistillationLoss(tf.tensor2d(student), tf.tensor2d(teacher), [0, 1, 2], 1).dataSync()));
  t1.forEach((value, i) => assert.ok(Math.abs(value - klOf(student[i]!, teacher[i]!, [0, 1, 2], 1)) < 1e-6));
  tf.tidy(() => {
    assert.throws(() => lwfDistillationLoss(tf.zeros([2, 3]), tf.zeros([2, 3]), [], 2), /non-empty list/);
    assert.throws(() => lwfDistillationLoss(tf.zeros([2, 4]), tf.zeros([2, 3]), [3], 2), /\[0, 3\)/);
    assert.throws(() => lwfDistillationLoss(tf.zeros([2, 3]), tf.zeros([3, 3]), [0], 2), /rows/);
    assert.throws(() => lwfDistillationLoss(tf.zeros([2, 3]), tf.zeros([2, 3]), [0], 0), /temperature/);
  });
});

test("lwfDistillationLoss property: 0 when the model equals the teacher (any shift of a row too), never negative", () => {
  const row = fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 4, maxLength: 4 });
  fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 5 }), fc.array(row, { minLength: 5, maxLength: 5 }), fc.float({ min: Math.fround(0.5), max: 5, noNaN: true }), fc.float({ min: -5, max: 5, noNaN: true }), (a, b, t, shift) => {
      const rows = a.length;
      const [same, other] = tf.tidy(() => {
        const x = tf.tensor2d(a);
        return [
          Array.from(lwfDistillationLoss(tf.add(x, shift) as tf.Tensor2D, x, [0, 1, 3], t).dataSync()),
          Array.from(lwfDistillationLoss(x, tf.tensor2d(b.slice(0, rows)), [0, 1, 3], t).dataSync()),
        ];
      });
      assert.ok(same.every((v) => Math.abs(v) < 1e-4), `not 0 at the teacher: ${same}`);
      assert.ok(other.every((v) => v > -1e-5), `negative KL: ${other}`);
    }),
    { numRuns: 40, seed: 7 },
  );
});

test("LwF training loss: a step of update 2 is mean CE + alpha * mean KL against the model as update 1 left it (float64 forward pass)", async () => {
  const spec = mlp({ inputShape: [2], hidden: [3], classes: 3 });
  const model = buildModel(spec, { seed: 0 });
  const alpha = 0.7;
  const temperature = 3;
  const updater = new LearningWithoutForgettingModelUpdater({
    model, alpha, temperature, batchSize: 16, maxEpochs: 2, seed: 1, backend: "wasm", optimizer: { name: "sgd", learningRate: 0.5 },
  });
  const chunk = (rows: number[][], labels: number[]): Dataset => ({
    features: Float32Array.from(rows.flat()), labels: Int32Array.from(labels), featureShape: [2], numClasses: 3, length: labels.length,
  });
  await updater.update(chunk([[1, 0], [0, 1], [0.5, 0.5], [1, 1]], [0, 1, 0, 1]));
  assert.deepEqual([...updater.distilledClasses()], [[DEFAULT_TASK_ID, [0, 1]]]);
  // The model as update 1 leaves it (the teacher of update 2): weights we choose.
  const shapes = model.snapshotWeights();
  const teacherWeights = [[0.3, -0.2, 0.5, 0.1, 0.4, -0.6], [0.1, 0, -0.1], [0.2, -0.3, 0.5, 0.4, 0.1, -0.2, -0.5, 0.3, 0.2], [0.05, -0.05, 0.1]];
  assert.deepEqual(shapes.map((t) => t.shape), [[2, 3], [3], [3, 3], [3]]);
  const chosen = teacherWeights.map((values, i) => tf.tensor(values, shapes[i]!.shape));
  model.restoreWeights(chosen);
  tf.dispose([...shapes, ...chosen]);

  // One batch per epoch: epoch 2's logged loss is the loss at the weights its epoch starts with (one step away from the teacher).
  let student: number[][] = [];
  const onEpochBegin = async (e: TrainingEvent) => {
    if (e.epoch === 1) student = (await weightsOf(model)).map((w) => Array.from(w));
  };
  const x2 = [[2, -1], [-0.5, 1.5], [1, 2]];
  const y2 = [2, 2, 0];
  await updater.update(chunk(x2, y2), { callbacks: [{ onEpochBegin }] });
  const logged = updater.metricsHistory.filter((r) => r.update === 2)[1]!.logs["train_loss"]!;

  const forward = (w: number[][], x: readonly number[]) => {
    const [k0, b0, kh, bh] = w as [number[], number[], number[], number[]];
    const h = [0, 1, 2].map((j) => Math.max(0, x[0]! * k0[j]! + x[1]! * k0[3 + j]! + b0[j]!));
    return [0, 1, 2].map((c) => h.reduce((s, v, j) => s + v * kh[j * 3 + c]!, bh[c]!));
  };
  const kls = x2.map((x) => klOf(forward(student, x), forward(teacherWeights, x), [0, 1], temperature));
  const expected = x2.reduce((s, x, i) => s + ce(forward(student, x), y2[i]!) + alpha * kls[i]!, 0) / x2.length;
  assert.ok(kls.some((kl) => kl > 1e-4), `the reference must exercise the distillation (${kls})`);
  assert.ok(Math.abs(logged - expected) < 1e-5, `logged ${logged} vs float64 ${expected}`);
  assert.deepEqual([...updater.distilledClasses().values()], [[0, 1, 2]], "update 2's classes join the distilled ones");
  model.dispose();
});

test("LwF keeps old classes better than fine-tuning on class-incremental blobs, without tensor leaks", async () => {
  // Class-incremental LwF is weak (no memory); on these blobs it still keeps part of the old classes.
  const result = await checkBeatsFineTuning(make(), { margin: 0.05, minOld: 0.5, minNew: 0.9 });
  assert.ok(result.old < 0.95, "sanity: LwF does not keep everything without a memory");
});

test("LwF state round trip: resuming after update 1 (the state's model is the teacher, its classes in the manifest) is bit-identical to an uninterrupted run", async () => {
  await checkStateRoundTrip(make({ alpha: 2 }), "lwf");
});

test("LwF multi-head: old tasks' heads are distilled and trained through, task 0 stays right, no tensor leak", async () => {
  const relabel = (d: Dataset, t: number): Dataset => ({ ...d, numClasses: 2, labels: d.labels.map((l) => l - 2 * t) });
  const train = data.train.map(relabel);
  const spec = mlp({ inputShape: [10], hidden: [16], classes: 2, multiHead: true });
  const model = buildModel(spec, { seed: 0 });
  const updater = new LearningWithoutForgettingModelUpdater({ model, batchSize: 32, maxEpochs: 3, seed: 2, backend: "wasm", optimizer: { name: "adam", learningRate: 1e-2 } });
  await updater.update(train[0]!, { taskId: "a" });
  const head0 = async () => (await weightsOf(model)).slice(2, 4); // dense_0 kernel and bias, then head a's, then head b's
  const before0 = await head0();
  await updater.update(train[1]!, { taskId: "b" });
  const counts = [tf.memory().numTensors];
  assert.notDeepEqual(await head0(), before0, "the distillation trains task a's head too");
  assert.deepEqual([...updater.distilledClasses()], [["a", [0, 1]], ["b", [0, 1]]]);
  await updater.update(train[1]!, { taskId: "b" });
  counts.push(tf.memory().numTensors);
  assert.equal(counts[1], counts[0], `tensors leaked: ${counts}`);
  const accuracy = (await evaluateDataset(model, relabel(data.test[0]!, 0), { taskId: "a" })).accuracy;
  assert.ok(accuracy > 0.9, `task a accuracy ${accuracy}`);
  model.dispose();
});

test("LwF options are validated: a negative alpha or a non-positive temperature is an OptionsError naming it", () => {
  const spec = mlp({ inputShape: [2], hidden: [3], classes: 3 });
  assert.throws(() => new LearningWithoutForgettingModelUpdater({ model: spec, alpha: -1 }), (e: unknown) => e instanceof OptionsError && /alpha/.test(e.message));
  assert.throws(() => new LearningWithoutForgettingModelUpdater({ model: spec, temperature: 0 }), (e: unknown) => e instanceof OptionsError && /temperature/.test(e.message));
  assert.throws(() => new LearningWithoutForgettingModelUpdater({ model: spec, memorySize: 10 } as never), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));
  const defaults = new LearningWithoutForgettingModelUpdater({ model: spec });
  assert.deepEqual([defaults.alpha, defaults.temperature], [1, 2]);
  const config = parseConfig({ model: { type: "mlp", inputShape: [2], hidden: [3], classes: 3 }, updater: "lwf", options: { alpha: 0.5, temperature: 4, memorySize: 100 } });
  const fromConfig = createUpdater(config.updater, { ...config.options, model: spec }) as LearningWithoutForgettingModelUpdater;
  assert.deepEqual([fromConfig.alpha, fromConfig.temperature], [0.5, 4], "a config names them so; the registry ignores memorySize");
});

test("LwF with maskUnusedClasses masks only classes neither in the chunk nor distilled (a -1e9 mask on old classes would flatten the KL)", async () => {
  const allowed: (readonly number[] | undefined)[] = [];
  class Spy extends LearningWithoutForgettingModelUpdater {
    protected override train(args: Parameters<LearningWithoutForgettingModelUpdater["train"]>[0]): ReturnType<LearningWithoutForgettingModelUpdater["train"]> {
      allowed.push(args.allowedClasses);
      return super.train(args);
    }
  }
  const model = buildModel(spec, { seed: 0 });
  const updater = new Spy({ ...forgettingSetting, maxEpochs: 1, model, maskUnusedClasses: true });
  await updater.update(data.train[0]!);
  await updater.update(data.train[1]!);
  assert.deepEqual(allowed, [[0, 1], [0, 1, 2, 3]]);
  const losses = updater.metricsHistory.map((r) => r.logs["train_loss"]!);
  assert.ok(losses.every((l) => Number.isFinite(l)), `losses ${losses}`);
  model.dispose();
});
