import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec, weightsOf, DIMS } from "./replay_fixtures.js";
import { OptionsError } from "../../src/errors.js";
import { buildModel } from "../../src/model/continual_model.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { podLayout } from "../../src/updaters/pooled_output_distillation.js";
import { createUpdater } from "../../src/updaters/registry.js";
import { shrinkAndPerturb } from "../../src/updaters/shrink_perturb.js";
import { parseConfig } from "../../src/workflow/config.js";
import {
  SuperExperienceReplayModelUpdater,
  superExperienceReplayLoss,
  type SuperExperienceReplayOptions,
} from "../../src/updaters/super_experience_replay.js";

before(async () => {
  await useBackend("wasm");
});

const POD = { podLayers: ["dense_0_relu"], podDistillationType: "pixel" as const };
const make = (extra: Partial<SuperExperienceReplayOptions> & { memorySize: number }) => (options: ModelUpdaterOptions) =>
  new SuperExperienceReplayModelUpdater({ ...POD, ...options, ...extra });

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-5, `${what}: ${actual} vs ${expected}`);

function ce(row: number[], label: number): number {
  const max = Math.max(...row);
  return max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0)) - row[label]!;
}

test("shrinkAndPerturb: shrinkFactor * w plus seeded Gaussian noise of standard deviation sigma", () => {
  const n = 20000;
  const start = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
  const run = (settings: { shrinkFactor: number; sigma: number }, seed: number) => {
    const v = tf.tidy(() => tf.variable(tf.tensor2d(start, [200, 100])));
    shrinkAndPerturb([v], settings, seed);
    const values = v.dataSync() as Float32Array;
    v.dispose();
    return values;
  };
  const before = tf.memory().numTensors;
  // No noise: exactly the float32 product.
  const shrunk = run({ shrinkFactor: 0.9, sigma: 0 }, 1);
  assert.ok(shrunk.every((v, i) => v === Math.fround(start[i]! * Math.fround(0.9))), "sigma 0: shrinkFactor * w exactly");
  // With noise: (new - 0.9 w) is N(0, sigma^2): its mean and standard deviation, from 20,000 draws, in float64.
  const sigma = 0.01;
  const noisy = run({ shrinkFactor: 0.9, sigma }, 7);
  const noise = Array.from(noisy, (v, i) => v - Math.fround(start[i]! * Math.fround(0.9)));
  const mean = noise.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(noise.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  assert.ok(Math.abs(mean) < (4 * sigma) / Math.sqrt(n), `noise mean ${mean}`);
  assert.ok(Math.abs(std / sigma - 1) < 0.03, `noise standard deviation ${std} vs ${sigma}`);
  // Seeded: the same seed repeats bit for bit, another draws other noise; factor 1 and sigma 0 change nothing.
  assert.deepEqual(run({ shrinkFactor: 0.9, sigma }, 7), noisy);
  assert.notDeepEqual(run({ shrinkFactor: 0.9, sigma }, 8), noisy);
  assert.deepEqual(run({ shrinkFactor: 1, sigma: 0 }, 7), start);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

test("superExperienceReplayLoss: batch mean = (CE(new) + derAlpha MSE + derBeta CE(memory) + clsAlpha consistency + podAlpha POD) / (1 + weights)", () => {
  const logits = [[1, 2, 0.5], [0, -1, 3], [2, 2, 1], [0.3, 0.1, -0.2], [1, 0, 0], [0.5, 0.5, 2]];
  const labels = [1, 2, 0, 2, 0, 1];
  const roles = [0, 0, 1, 2, 2, 3];
  const storedLogits = [[0, 0, 0], [0, 0, 0], [0.5, 1.5, -1], [0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const features = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [1, -2]];
  const current = [[1, 1], [2, 0], [0, 1], [1, 0], [0, 2], [0.5, 1]];
  const consistency = [[1, 0, 0], [0.5, 0.5, 1]];
  const [derAlpha, derBeta, clsAlpha, podAlpha] = [0.7, 0.4, 0.2, 0.9];
  const mse = (a: number[], b: number[]) => a.reduce((s, v, c) => s + (v - b[c]!) ** 2, 0) / a.length;
  // POD, pixel, normalised, of row 5: the squares [0.25, 1] and [1, 4], each scaled to unit length.
  const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));
  const [pa, pb] = [unit([0.25, 1]), unit([1, 4])];
  const pod = Math.hypot(pa[0]! - pb[0]!, pa[1]! - pb[1]!);
  const sum =
    (ce(logits[0]!, 1) + ce(logits[1]!, 2)) / 2 +
    derAlpha * mse(logits[2]!, storedLogits[2]!) +
    (derBeta * (ce(logits[3]!, 2) + ce(logits[4]!, 0))) / 2 +
    (clsAlpha * (mse(logits[3]!, consistency[0]!) + mse(logits[4]!, consistency[1]!))) / 2 +
    podAlpha * pod;
  const layout = podLayout(["h"], [[2]], { distillationType: "pixel", normalize: true }, "podDistillationType");
  const before = tf.memory().numTensors;
  const run = (normalizeLoss: boolean) =>
    tf.tidy(() => {
      const targets = tf.tensor2d(roles.map((role, r) => [role, ...storedLogits[r]!, ...features[r]!]));
      const perRow = superExperienceReplayLoss(
        tf.tensor2d(logits),
        tf.tensor1d(labels, "int32"),
        targets,
        [tf.tensor2d(current)],
        { targets: tf.tensor2d(consistency), start: 3 },
        { derAlpha, derBeta, clsAlpha, podAlpha, lossFn: crossEntropyLoss, layout, pod: { distillationType: "pixel", normalize: true }, normalizeLoss },
      );
      return tf.mean(perRow).dataSync()[0]!;
    });
  close(run(false), sum, "unnormalised");
  close(run(true), sum / (1 + derAlpha + derBeta + clsAlpha + podAlpha), "normalised (Renate)");
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

test("Super-ER shrinks and perturbs the trainable weights at the start of each update; frozen ones stay", async () => {
  const model = buildModel(spec, { seed: 0 });
  model.freezeWeights(["dense_0/kernel"]);
  const start = await weightsOf(model);
  const names = model.frozenWeightNames();
  assert.deepEqual(names, ["dense_0/kernel"]);
  // Seen when training begins, before its first step (with maxEpochs 0 nothing is shrunk: zero_epochs.test.ts).
  let after: Float32Array[] = [];
  const updater = make({ memorySize: 50, maxEpochs: 1 })({ ...base, maxEpochs: 1, model });
  await updater.update(data.train[0]!, { callbacks: [{ onTrainBegin: async () => void (after = await weightsOf(model)) }] });
  // The frozen kernel is the one weight of 10 x 32 values (snapshotWeights lists trainable weights first).
  const frozen = start.findIndex((w) => w.length === DIMS * 32);
  assert.deepEqual(after[frozen], start[frozen], "the frozen kernel is untouched");
  for (const i of [0, 1, 2, 3].filter((i) => i !== frozen)) {
    const residual = Array.from(after[i]!, (v, j) => v - 0.95 * start[i]![j]!);
    assert.ok(residual.some((r) => r !== 0) && residual.every((r) => Math.abs(r) < 0.006), `weight ${i}: 0.95 w + noise of sd 0.001`);
  }
  model.dispose();
});

test("Super-ER keeps old tasks that fine-tuning forgets; no tensor leaks", async () => {
  await checkBeatsFineTuning(make({ memorySize: 100 }), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
});

test("Super-ER state round trip (memory, averaged models, seeded shrink-and-perturb): resume after update 1 == uninterrupted run", async () => {
  await checkStateRoundTrip(make({ memorySize: 70 }), "super-er");
});

// Multi-head models: test/updaters/task_incremental.test.ts runs Super-ER (and POD-ER) through a head per task.
test("Super-ER without its POD term: no features stored, two memory batches", async () => {
  const plain = new SuperExperienceReplayModelUpdater({ ...base, maxEpochs: 2, model: buildModel(spec, { seed: 0 }), memorySize: 60, podAlpha: 0 });
  await plain.update(data.train[0]!);
  await plain.update(data.train[1]!);
  assert.deepEqual(Object.keys(plain.memory.metadataSchema), ["logits"], "no features stored without POD");
  assert.ok(plain.lastUpdatePhases[0]!.history.every((logs) => Number.isFinite(logs["train_loss"])));
  plain.model.dispose();
});

test("Super-ER options: Renate's defaults; podLayers required unless podAlpha is 0; CLS constraints", () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = new SuperExperienceReplayModelUpdater({ ...base, model, memorySize: 10, podLayers: ["dense_0_relu"] });
  assert.deepEqual(
    [updater.derAlpha, updater.derBeta, updater.clsAlpha, updater.podAlpha, updater.shrinkPerturb, updater.pod, updater.normalizeLoss],
    [1, 1, 0.1, 1, { shrinkFactor: 0.95, sigma: 0.001 }, { distillationType: "spatial", normalize: true }, true],
  );
  const refuses = (options: object, pattern: RegExp) =>
    assert.throws(
      () => new SuperExperienceReplayModelUpdater({ ...base, model, memorySize: 10, ...options } as SuperExperienceReplayOptions),
      (e: unknown) => e instanceof OptionsError && pattern.test(e.message),
    );
  refuses({}, /podLayers must name at least one body layer.*or set podAlpha to 0/);
  refuses({ podLayers: [] }, /podLayers must name/);
  refuses({ podAlpha: 0, spShrinkFactor: 0 }, /spShrinkFactor/);
  refuses({ podAlpha: 0, spSigma: -1 }, /spSigma/);
  refuses({ podAlpha: 0, clsPlasticModelUpdateWeight: 1 }, /clsPlasticModelUpdateWeight \(1\) must not exceed/);
  refuses({ podAlpha: 0, clsStableModelUpdateProbability: 0.95 }, /clsPlasticModelUpdateProbability \(0.9\) must be above/);
  refuses({ podAlpha: 0, podDistillationType: "mean" }, /podDistillationType/);
  assert.equal(new SuperExperienceReplayModelUpdater({ ...base, model, memorySize: 10, podAlpha: 0 }).podLayers.length, 0);
  model.dispose();
});

test("config files take POD-ER's and Super-ER's options (relearn update builds the updater from them)", () => {
  const model = { type: "mlp", inputShape: [DIMS], hidden: [8], classes: 6 };
  const pod = parseConfig({ model, updater: "pod-er", options: { memorySize: 10, layers: ["dense_0_relu"], distillationType: "pixel", beta: 0, normalizeLoss: false } });
  const sup = parseConfig({ model, updater: "super-er", options: { memorySize: 10, podLayers: ["dense_0_relu"], podDistillationType: "pixel", spSigma: 0, clsAlpha: 0.2 } });
  for (const config of [pod, sup]) {
    const updater = createUpdater(config.updater, { ...config.options, model: config.model });
    assert.equal(updater.kind, config.updater);
  }
  assert.throws(() => parseConfig({ model, updater: "pod-er", options: { memorySize: 10, layer: ["dense_0_relu"] } }), /layer/);
});
