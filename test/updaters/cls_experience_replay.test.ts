import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { expectNoTensorLeak, useBackend, valuesOf } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, data, spec, storedRowsComeFrom, weightsOf } from "./replay_fixtures.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { Random } from "../../src/random.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import { evaluateDataset } from "../../src/training/evaluate.js";
import { ClsExperienceReplayModelUpdater, clsExperienceReplayLoss, type ClsExperienceReplayOptions } from "../../src/updaters/cls_experience_replay.js";
import { ClsEmaModels, consistencyTargets } from "../../src/updaters/cls_ema_models.js";
import { carryOver, emaDecayAt, emaUpdate } from "../../src/updaters/ema_weights.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { OptionsError } from "../../src/errors.js";
import { createUpdater } from "../../src/updaters/registry.js";

before(async () => {
  await useBackend("wasm");
});

const make = (extra: Partial<ClsExperienceReplayOptions> & { memorySize: number }) => (options: ModelUpdaterOptions) =>
  new ClsExperienceReplayModelUpdater({ ...options, ...extra });

/** Cross-entropy of one row, in float64. */
function ce(row: readonly number[], label: number): number {
  const max = Math.max(...row);
  return max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0)) - row[label]!;
}

/** Softmax probability of `label` in float64. */
function probability(row: readonly number[], label: number): number {
  return Math.exp(-ce(row, label));
}

/** The mean of a per-row loss tensor, which is then disposed. */
function meanOf(perRow: tf.Tensor): number {
  const mean = tf.mean(perRow);
  const value = mean.dataSync()[0]!;
  tf.dispose([perRow, mean]);
  return value;
}

test("clsExperienceReplayLoss: its batch mean is (CE(new) + alpha CE(memory) + beta MSE(memory, targets)) / (1 + alpha + beta)", async () => {
  const logits = [[1, 2, 0.5], [0, -1, 3], [2, 2, 1], [0.3, 0.1, -0.2], [1, 0, 0]];
  const labels = [1, 2, 0, 2, 0];
  const targets = [[0.5, 1.5, -1], [0, 0, 1], [2, -0.5, 0.25]];
  const [alpha, beta] = [0.5, 0.1];
  const meanCe = (rows: number[]) => rows.reduce((s, r) => s + ce(logits[r]!, labels[r]!), 0) / rows.length;
  const mseOver = (classes: number[]) =>
    [2, 3, 4].reduce((s, r, i) => s + classes.reduce((t, c) => t + (logits[r]![c]! - targets[i]![c]!) ** 2, 0) / classes.length, 0) / 3;
  const summed = meanCe([0, 1]) + alpha * meanCe([2, 3, 4]) + beta * mseOver([0, 1, 2]);
  const z = tf.tensor2d(logits);
  const y = tf.tensor1d(labels, "int32");
  const t = tf.tensor2d(targets);
  const options = { chunkRows: 2, alpha, beta, normalize: true, lossFn: crossEntropyLoss };
  await expectNoTensorLeak(() => {
    const normalized = meanOf(clsExperienceReplayLoss(z, y, t, options));
    const raw = meanOf(clsExperienceReplayLoss(z, y, t, { ...options, normalize: false }));
    const masked = meanOf(clsExperienceReplayLoss(z, y, t, { ...options, normalize: false, scoredClasses: [0, 2] }));
    const newOnly = tf.tidy(() => meanOf(clsExperienceReplayLoss(tf.slice(z, [0, 0], [2, 3]), tf.slice(y, [0], [2]), undefined, { ...options, chunkRows: 2 })));
    assert.ok(Math.abs(normalized - summed / (1 + alpha + beta)) < 1e-5, `${normalized} vs ${summed / 1.6}`);
    assert.ok(Math.abs(raw - summed) < 1e-5, `${raw} vs ${summed}`);
    const maskedExpected = meanCe([0, 1]) + alpha * meanCe([2, 3, 4]) + beta * mseOver([0, 2]);
    assert.ok(Math.abs(masked - maskedExpected) < 1e-5, `${masked} vs ${maskedExpected}`);
    assert.ok(Math.abs(newOnly - meanCe([0, 1])) < 1e-5, "no memory rows: plain mean CE, not normalised (Renate)");
    // newDataLoss "asymmetric": the new rows' CE over the chunk's classes {1, 2} only (ER-ACE); memory terms unchanged.
    const asymmetric = meanOf(clsExperienceReplayLoss(z, y, t, { ...options, chunkClasses: [1, 2] }));
    const ceOver = (r: number, classes: number[]) => ce(classes.map((c) => logits[r]![c]!), classes.indexOf(labels[r]!));
    const asymmetricExpected = ((ceOver(0, [1, 2]) + ceOver(1, [1, 2])) / 2 + alpha * meanCe([2, 3, 4]) + beta * mseOver([0, 1, 2])) / (1 + alpha + beta);
    assert.ok(Math.abs(asymmetric - asymmetricExpected) < 1e-5, `${asymmetric} vs ${asymmetricExpected}`);
    assert.ok(asymmetric < normalized, "masking class 0 out of the new rows' softmax lowers their CE");
    tf.tidy(() => {
      assert.throws(() => clsExperienceReplayLoss(z, y, tf.zeros([2, 3]), options), /targets must be \[3, 3\]/);
      assert.throws(() => clsExperienceReplayLoss(z, y, t, { ...options, chunkRows: 6 }), /chunkRows 6/);
    });
  });
  tf.dispose([z, y, t]);
});

test("consistencyTargets: each row from the model that gives its label the higher probability (ties: plastic)", async () => {
  const stable = [[2, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, 5]];
  const plastic = [[1, 0, 0], [0, 3, 0], [2, 2, 2], [5, 0, 0]];
  const labels = [0, 1, 2, 2];
  const expected = stable.map((row, i) => (probability(row, labels[i]!) > probability(plastic[i]!, labels[i]!) ? row : plastic[i]!));
  assert.deepEqual(expected, [stable[0], plastic[1], plastic[2], stable[3]], "the hand-made rows cover both winners and a tie");
  const result = await expectNoTensorLeak(() => tf.tidy(() => consistencyTargets(tf.tensor2d(stable), tf.tensor2d(plastic), tf.tensor1d(labels, "int32")).arraySync()));
  assert.deepEqual(result, expected);
});

test("property: with both averaged models equal to the working model the consistency term is 0", () => {
  const row = fc.array(fc.float({ min: -5, max: 5, noNaN: true, noDefaultInfinity: true }), { minLength: 3, maxLength: 3 });
  fc.assert(
    fc.property(fc.array(fc.tuple(row, fc.integer({ min: 0, max: 2 })), { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 5 }), (rows, chunk) => {
      const chunkRows = Math.min(chunk, rows.length - 1);
      tf.tidy(() => {
        const logits = tf.tensor2d(rows.map(([r]) => r));
        const labels = tf.tensor1d(rows.map(([, l]) => l), "int32");
        const memory = tf.slice(logits, [chunkRows, 0], [rows.length - chunkRows, 3]);
        const targets = consistencyTargets(memory, memory, tf.slice(labels, [chunkRows], [rows.length - chunkRows]));
        const options = { chunkRows, alpha: 0.5, normalize: true, lossFn: crossEntropyLoss };
        const withTerm = tf.mean(clsExperienceReplayLoss(logits, labels, targets, { ...options, beta: 0.1 })).dataSync()[0]!;
        // beta 0 drops the term but keeps the normaliser: compare with the same normaliser.
        const without = tf.mean(clsExperienceReplayLoss(logits, labels, targets, { ...options, beta: 0 })).dataSync()[0]! * (1.5 / 1.6);
        assert.ok(Math.abs(withTerm - without) < 1e-5 * Math.max(1, without), `${withTerm} vs ${without}`);
      });
    }),
    { numRuns: 50 },
  );
});

test("EMA: warm-up weights, reference values of one step, and equal weights stay bit-identical", async () => {
  [1, 2, 9, 998, 999, 5000].forEach((step, i) => {
    const expected = [0.5, 2 / 3, 0.9, 998 / 999, 0.999, 0.999][i]!;
    assert.ok(Math.abs(emaDecayAt(step, 0.999) - expected) < 1e-15, `step ${step}`);
  });
  assert.throws(() => emaDecayAt(0, 0.9), RangeError);
  assert.throws(() => emaDecayAt(1, 1.5), RangeError);
  const tiny = mlp({ inputShape: [2], hidden: [3], classes: 2 });
  const ema = buildModel(tiny, { seed: 1 });
  const working = buildModel(tiny, { seed: 2 });
  const [e0, w0] = [await weightsOf(ema), await weightsOf(working)];
  await expectNoTensorLeak(() => emaUpdate(ema, working, 0.75));
  const after = await weightsOf(ema);
  after.forEach((values, i) =>
    values.forEach((v, j) => {
      const expected = 0.75 * e0[i]![j]! + 0.25 * w0[i]![j]!;
      assert.ok(Math.abs(v - expected) < 1e-6, `weight ${i}[${j}]: ${v} vs ${expected}`);
    }),
  );
  // A model averaged with itself (or a frozen weight) does not move by a single bit.
  emaUpdate(working, working, 0.3);
  assert.deepEqual(await weightsOf(working), w0);
  ema.dispose();
  working.dispose();
});

test("ClsEmaModels: after each step the plastic and then the stable model take a gated EMA step (reference values)", async () => {
  const tiny = mlp({ inputShape: [2], hidden: [3], classes: 2 });
  const working = buildModel(tiny, { seed: 2 });
  const settings = { stableModelUpdateWeight: 0.9, plasticModelUpdateWeight: 0.6, stableModelUpdateProbability: 0.4, plasticModelUpdateProbability: 0.8 };
  const models = new ClsEmaModels(settings);
  models.begin(working);
  const start = (await weightsOf(working)).map((w) => Array.from(w));
  const expected = { stable: start.map((w) => [...w]), plastic: start.map((w) => [...w]) };
  const replay = Random.fromSeed(7);
  const gates = Random.fromSeed(7);
  const moved = { stable: 0, plastic: 0 };
  const shapeTensors = working.snapshotWeights();
  const shapes = shapeTensors.map((t) => t.shape);
  tf.dispose(shapeTensors);
  for (let step = 1; step <= 12; step++) {
    // The working model moves; the averages follow in float64 here.
    const next = start.map((w) => w.map((v, j) => v + 0.1 * step * Math.sin(j + step)));
    const nextTensors = next.map((w, i) => tf.tensor(w, shapes[i]));
    working.restoreWeights(nextTensors);
    tf.dispose(nextTensors);
    const current = await weightsOf(working);
    await expectNoTensorLeak(() => models.afterStep(working, gates));
    for (const [name, p, decay] of [["plastic", settings.plasticModelUpdateProbability, settings.plasticModelUpdateWeight], ["stable", settings.stableModelUpdateProbability, settings.stableModelUpdateWeight]] as const) {
      if (replay.float() >= p) continue;
      moved[name]++;
      const a = Math.min(1 - 1 / (step + 1), decay);
      expected[name] = expected[name].map((w, i) => w.map((v, j) => a * v + (1 - a) * current[i]![j]!));
    }
  }
  assert.ok(moved.plastic > moved.stable && moved.stable > 0, `gates opened ${JSON.stringify(moved)}`);
  for (const name of ["stable", "plastic"] as const) {
    const actual = await weightsOf(models.models[name]);
    actual.forEach((values, i) => values.forEach((v, j) => assert.ok(Math.abs(v - expected[name][i]![j]!) < 1e-5, `${name} ${i}[${j}]: ${v} vs ${expected[name][i]![j]}`)));
  }
  assert.equal(models.steps, 12);
  models.dispose();
  working.dispose();
});

test("carryOver: kept weights stay, grown class columns and new heads come from the current weights", async () => {
  await expectNoTensorLeak(() => {
    const kept = [tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([5, 6])];
    const current = [tf.tensor2d([[0, 0, 7], [0, 0, 8]]), tf.tensor1d([0, 0, 9]), tf.tensor1d([10])];
    const merged = carryOver(kept, current);
    assert.deepEqual(merged.map((t) => t.arraySync()), [[[1, 2, 7], [3, 4, 8]], [5, 6, 9], [10]]);
    tf.dispose([...kept, ...current, ...merged]);
    tf.tidy(() => assert.throws(() => carryOver([tf.tensor1d([1, 2, 3, 4])], [tf.tensor1d([1, 2])]), /weight 0 has shape \[4\]/));
  });
});

test("CLS-ER keeps old tasks that fine-tuning forgets, predicting with the stable (short windows) or the working model; no tensor leaks", async () => {
  // A blobs task is 60 steps: the stable model needs a window of that order (Renate's 0.999 averages ~1400 steps).
  const shortWindows = { stableModelUpdateWeight: 0.95, plasticModelUpdateWeight: 0.9 };
  await checkBeatsFineTuning(make({ memorySize: 100, ...shortWindows }), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
  await checkBeatsFineTuning(make({ memorySize: 100, predictWith: "working" }), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
  await checkBeatsFineTuning(make({ memorySize: 100, ...shortWindows, newDataLoss: "asymmetric" }), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
});

test("CLS-ER: the model predicts with the stable average; memory streams in like ER; dispose() frees the averages too", async () => {
  const tensors = tf.memory().numTensors;
  const updater = new ClsExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 50 });
  await updater.update(data.train[0]!);
  assert.deepEqual(await weightsOf(updater.model), valuesOf(updater.emaModels.stableWeights!));
  assert.equal(updater.memory.length, 50);
  assert.ok(storedRowsComeFrom(updater.memory, [data.train[0]!]));
  assert.equal(updater.emaModels.steps, 3 * Math.ceil(data.train[0]!.length / 32));
  updater.dispose();
  assert.equal(tf.memory().numTensors, tensors);
});

test("CLS-ER's validation scores the model it keeps: predicting with the stable average, a last phase validates that average (H1)", async () => {
  for (const predictWith of ["stable", "working"] as const) {
    const updater = new ClsExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 50, predictWith });
    for (const t of [0, 1]) await updater.update(data.train[t]!, { valDataset: data.test[t]! });
    const phases = updater.lastUpdatePhases;
    assert.deepEqual(phases.map((p) => p.phase), predictWith === "stable" ? ["cls-er", "stable-model"] : ["cls-er"], predictWith);
    // The last phase's val_accuracy is the kept model's accuracy pooled over both validation sets, computed here apart.
    const sizes = [data.test[0]!.length, data.test[1]!.length];
    const accuracies = [(await evaluateDataset(updater.model, data.test[0]!)).accuracy, (await evaluateDataset(updater.model, data.test[1]!)).accuracy];
    const pooled = (accuracies[0]! * sizes[0]! + accuracies[1]! * sizes[1]!) / (sizes[0]! + sizes[1]!);
    const last = phases.at(-1)!;
    assert.ok(Math.abs(last.history.at(-1)!["val_accuracy"]! - pooled) < 1e-6, `${predictWith}: ${last.history.at(-1)!["val_accuracy"]} vs ${pooled}`);
    assert.deepEqual(last.validatedOn, [0, 1]);
    if (predictWith === "stable") assert.deepEqual([last.epochsRun, last.history.length, last.history[0]!["train_loss"]], [0, 1, undefined]);
    updater.dispose();
  }
  // Without validation sets there is nothing to score: no extra phase.
  const plain = new ClsExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 50 });
  await plain.update(data.train[0]!);
  assert.deepEqual(plain.lastUpdatePhases.map((p) => p.phase), ["cls-er"]);
  plain.dispose();
});

for (const [predictWith, newDataLoss] of [["stable", "cross-entropy"], ["working", "cross-entropy"], ["stable", "asymmetric"]] as const) {
  test(`CLS-ER (${predictWith}, ${newDataLoss}) state round trip: resumed after update 1, updates 2 and 3 are bit-identical to an uninterrupted run`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "relearn-cls-er-"));
    try {
      const options = { ...base, memorySize: 70, predictWith, newDataLoss };
      const straight = new ClsExperienceReplayModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }) });
      for (const t of [0, 1, 2]) await straight.update(data.train[t]!, { valDataset: data.test[t]! });
      const first = new ClsExperienceReplayModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), outputStateFolder: join(dir, "v1") });
      await first.update(data.train[0]!, { valDataset: data.test[0]! });
      first.model.dispose();
      const resumed = new ClsExperienceReplayModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), inputStateFolder: join(dir, "v1") });
      for (const t of [1, 2]) await resumed.update(data.train[t]!, { valDataset: data.test[t]! });
      assert.equal(resumed.updatesDone, 3);
      assert.deepEqual(await weightsOf(resumed.model), await weightsOf(straight.model), "weights differ from the uninterrupted run");
      assert.deepEqual(valuesOf(resumed.emaModels.stableWeights!), valuesOf(straight.emaModels.stableWeights!));
      assert.equal(resumed.emaModels.steps, straight.emaModels.steps);
      assert.deepEqual(resumed.memory.toSnapshot(), straight.memory.toSnapshot(), "memory differs from the uninterrupted run");
      straight.model.dispose();
      resumed.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("CLS-ER defaults (Renate's) and bad options", () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = new ClsExperienceReplayModelUpdater({ ...base, model, memorySize: 10 });
  assert.deepEqual(
    [updater.alpha, updater.beta, updater.stableModelUpdateWeight, updater.plasticModelUpdateWeight, updater.stableModelUpdateProbability, updater.plasticModelUpdateProbability],
    [0.5, 0.1, 0.999, 0.999, 0.7, 0.9],
  );
  assert.deepEqual([updater.normalizeLoss, updater.predictWith, updater.newDataLoss, updater.memoryBatchSize], [true, "stable", "cross-entropy", 32]);
  const refuses = (extra: Record<string, unknown>, name: RegExp) =>
    assert.throws(() => new ClsExperienceReplayModelUpdater({ ...base, model, memorySize: 10, ...extra }), (e: unknown) => e instanceof OptionsError && name.test(e.message));
  refuses({ memorySize: 0 }, /memorySize/);
  refuses({ alpha: -1 }, /alpha/);
  refuses({ beta: Number.NaN }, /beta/);
  refuses({ stableModelUpdateWeight: 1.5 }, /stableModelUpdateWeight/);
  refuses({ plasticModelUpdateProbability: -0.1 }, /plasticModelUpdateProbability/);
  refuses({ plasticModelUpdateWeight: 0.9999 }, /plasticModelUpdateWeight \(0.9999\) must not exceed stableModelUpdateWeight/);
  refuses({ stableModelUpdateProbability: 0.9 }, /plasticModelUpdateProbability \(0.9\) must be above stableModelUpdateProbability/);
  refuses({ predictWith: "plastic" }, /predictWith/);
  refuses({ newDataLoss: "ace" }, /newDataLoss/);
  refuses({ gamma: 1 }, /gamma/);
  model.dispose();
});

test("the cls-er-ace preset: CLS-ER with the asymmetric new-data loss and shorter averages; options given win", () => {
  const model = buildModel(spec, { seed: 0 });
  const preset = createUpdater("cls-er-ace", { ...base, model, memorySize: 10 }) as ClsExperienceReplayModelUpdater;
  assert.ok(preset instanceof ClsExperienceReplayModelUpdater);
  assert.equal(preset.kind, "cls-er", "its states are CLS-ER states");
  assert.deepEqual([preset.newDataLoss, preset.stableModelUpdateWeight, preset.plasticModelUpdateWeight], ["asymmetric", 0.995, 0.99]);
  assert.deepEqual([preset.alpha, preset.beta, preset.predictWith], [0.5, 0.1, "stable"], "the rest is CLS-ER's defaults");
  const given = createUpdater("cls-er-ace", { ...base, model, memorySize: 10, newDataLoss: "cross-entropy", stableModelUpdateWeight: 0.999 } as ModelUpdaterOptions & { memorySize: number });
  assert.deepEqual([(given as ClsExperienceReplayModelUpdater).newDataLoss, (given as ClsExperienceReplayModelUpdater).stableModelUpdateWeight], ["cross-entropy", 0.999]);
  assert.throws(() => createUpdater("cls-er-ace", { ...base, model }), (e: unknown) => e instanceof OptionsError && /needs a memorySize/.test(e.message));
  model.dispose();
});
