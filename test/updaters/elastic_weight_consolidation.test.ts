import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { checkBeatsFineTuning, checkStateRoundTrip } from "./replay_fixtures.js";
import type { Dataset } from "../../src/data/dataset.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { datasetSource } from "../../src/training/batch_source.js";
import { empiricalFisher } from "../../src/training/empirical_fisher.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import { ElasticWeightConsolidationModelUpdater, ewcPenalty, type EwcPair } from "../../src/updaters/elastic_weight_consolidation.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { createUpdater } from "../../src/updaters/registry.js";
import { OptionsError } from "../../src/errors.js";
import { parseConfig } from "../../src/workflow/config.js";

before(async () => {
  await useBackend("wasm");
});

const make = (extra: { ewcLambda?: number; ewcMode?: "separate" | "online"; decayFactor?: number } = {}) => (options: ModelUpdaterOptions) =>
  new ElasticWeightConsolidationModelUpdater({ ...options, ...extra });

const pairOf = (terms: Record<string, { importance: number[]; anchor: number[]; shape: number[] }>): EwcPair =>
  new Map(Object.entries(terms).map(([name, t]) => [name, { importance: tf.tensor(t.importance, t.shape), anchor: tf.tensor(t.anchor, t.shape) }]));
const disposePair = (pair: EwcPair) => {
  for (const t of pair.values()) tf.dispose([t.importance, t.anchor]);
};

test("ewcPenalty: sum over pairs and weights of F * (theta - theta*)^2, no 1/2; weights without a term skipped (float64 reference)", () => {
  const before = tf.memory().numTensors;
  const first = pairOf({ a: { importance: [1, 0.5, 2, 0], anchor: [0.1, -0.2, 0.3, 5], shape: [2, 2] }, b: { importance: [3], anchor: [1], shape: [1] } });
  const second = pairOf({ a: { importance: [0.25, 0.25, 0.25, 0.25], anchor: [0, 0, 0, 0], shape: [2, 2] }, gone: { importance: [9], anchor: [9], shape: [1] } });
  const theta = { a: [0.4, 0.1, -0.1, 2], b: [0.5], extra: [7] };
  const variables = Object.entries(theta).map(([name, v]) => ({ name, variable: tf.tensor(v, name === "a" ? [2, 2] : [1]) }));
  const value = tf.tidy(() => ewcPenalty([first, second], variables).dataSync()[0]!);
  const expected =
    [1, 0.5, 2, 0].reduce((s, f, i) => s + f * (theta.a[i]! - [0.1, -0.2, 0.3, 5][i]!) ** 2, 0) +
    3 * (0.5 - 1) ** 2 +
    theta.a.reduce((s, v) => s + 0.25 * v ** 2, 0);
  assert.ok(Math.abs(value - expected) < 1e-6, `${value} vs ${expected}`);
  assert.equal(tf.tidy(() => ewcPenalty([], variables).dataSync()[0]), 0);
  assert.throws(() => ewcPenalty([first], [{ name: "b", variable: variables[0]!.variable }]), /"b" has shape \[2,2\] but its anchor \[1\]/);
  disposePair(first);
  disposePair(second);
  tf.dispose(variables.map((v) => v.variable));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

test("ewcPenalty property: 0 at the anchor, never negative, and quadratic: moving s times as far costs s^2 times as much", () => {
  const values = fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: 6, maxLength: 6 });
  const importances = fc.array(fc.float({ min: 0, max: 5, noNaN: true }), { minLength: 6, maxLength: 6 });
  fc.assert(
    fc.property(values, values, importances, fc.float({ min: Math.fround(0.1), max: 4, noNaN: true }), (anchor, direction, importance, s) => {
      const pair = pairOf({ w: { importance, anchor, shape: [2, 3] } });
      const at = (scale: number) =>
        tf.tidy(() => ewcPenalty([pair], [{ name: "w", variable: tf.add(tf.tensor(anchor, [2, 3]), tf.mul(tf.tensor(direction, [2, 3]), scale)) }]).dataSync()[0]!);
      const [zero, one, scaled] = [at(0), at(1), at(s)];
      disposePair(pair);
      assert.equal(zero, 0);
      assert.ok(one >= 0);
      assert.ok(Math.abs(scaled - s * s * one) <= 1e-4 * Math.max(1, scaled), `${scaled} vs ${s * s} * ${one}`);
    }),
    { numRuns: 50, seed: 11 },
  );
});

/** A linear model (no hidden layer): weights head/kernel [2, 3] and head/bias [3]. */
const linearSpec = mlp({ inputShape: [2], hidden: [], classes: 3 });
const chunkOf = (rows: number[][], labels: number[]): Dataset => ({
  features: Float32Array.from(rows.flat()), labels: Int32Array.from(labels), featureShape: [2], numClasses: 3, length: labels.length,
});

/** The empirical Fisher of a linear softmax model in float64: batch-mean CE gradients, squared, averaged over batches. */
function fisherOf(kernel: number[], bias: number[], rows: number[][], labels: number[], batchSize: number): { kernel: number[]; bias: number[] } {
  const fk = new Array<number>(6).fill(0);
  const fb = new Array<number>(3).fill(0);
  let batches = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const idx = rows.slice(start, start + batchSize).map((_, i) => start + i);
    const gk = new Array<number>(6).fill(0);
    const gb = new Array<number>(3).fill(0);
    for (const r of idx) {
      const x = rows[r]!;
      const z = [0, 1, 2].map((c) => x[0]! * kernel[c]! + x[1]! * kernel[3 + c]! + bias[c]!);
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
      for (let c = 0; c < 3; c++) {
        const d = (p[c]! - (labels[r] === c ? 1 : 0)) / idx.length;
        gk[c] = gk[c]! + x[0]! * d;
        gk[3 + c] = gk[3 + c]! + x[1]! * d;
        gb[c] = gb[c]! + d;
      }
    }
    gk.forEach((g, i) => (fk[i] = fk[i]! + g * g));
    gb.forEach((g, i) => (fb[i] = fb[i]! + g * g));
    batches++;
  }
  return { kernel: fk.map((v) => v / batches), bias: fb.map((v) => v / batches) };
}

test("empiricalFisher: squared gradients of each in-order batch's mean CE, averaged over batches (float64 reference, last batch smaller)", async () => {
  const model = buildModel(linearSpec, { seed: 0 });
  const kernel = [0.3, -0.2, 0.5, 0.1, 0.4, -0.6];
  const bias = [0.1, 0, -0.1];
  const set = [tf.tensor(kernel, [2, 3]), tf.tensor(bias, [3])];
  model.restoreWeights(set);
  tf.dispose(set);
  const rows = [[1, 0], [0, 1], [0.5, -0.5], [2, 1], [-1, 1]];
  const labels = [0, 1, 2, 0, 1];
  const before = tf.memory().numTensors;
  const fisher = await empiricalFisher(model, datasetSource(chunkOf(rows, labels)), { taskId: "0", batchSize: 2, lossFn: crossEntropyLoss, seed: 0 });
  const expected = fisherOf(kernel, bias, rows, labels, 2);
  assert.deepEqual(fisher.map((f) => f.name), ["head/kernel", "head/bias"]);
  const got = fisher.map((f) => Array.from(f.value.dataSync()));
  [expected.kernel, expected.bias].forEach((values, w) => values.forEach((v, i) => assert.ok(Math.abs(got[w]![i]! - v) < 1e-6, `weight ${w}[${i}]: ${got[w]![i]} vs ${v}`)));
  tf.dispose(fisher.map((f) => f.value));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  model.dispose();
});

test("EWC training loss: update 2's first step is mean CE + ewcLambda * sum F (theta - theta*)^2 with F and theta* of update 1 (float64)", async () => {
  const model = buildModel(linearSpec, { seed: 0 });
  const ewcLambda = 3;
  const updater = new ElasticWeightConsolidationModelUpdater({
    model, ewcLambda, batchSize: 2, maxEpochs: 1, seed: 1, backend: "wasm", optimizer: { name: "sgd", learningRate: 0.5 },
  });
  const rows1 = [[1, 0], [0, 1], [0.5, -0.5]];
  const labels1 = [0, 1, 0];
  await updater.update(chunkOf(rows1, labels1));
  assert.equal(updater.storedPairs().length, 1);
  const [anchorKernel, anchorBias] = model.snapshotWeights().map((t) => {
    const values = Array.from(t.dataSync());
    t.dispose();
    return values;
  }) as [number[], number[]];
  const fisher = fisherOf(anchorKernel, anchorBias, rows1, labels1, 2);
  const kernel = [0.3, -0.2, 0.5, 0.1, 0.4, -0.6];
  const bias = [0.1, 0, -0.1];
  const set = [tf.tensor(kernel, [2, 3]), tf.tensor(bias, [3])];
  model.restoreWeights(set);
  tf.dispose(set);
  const rows2 = [[2, -1], [-0.5, 1.5]];
  const labels2 = [2, 2];
  await updater.update(chunkOf(rows2, labels2));
  const logged = updater.metricsHistory.filter((r) => r.update === 2)[0]!.logs["train_loss"]!;
  const ce = (x: number[], y: number) => {
    const z = [0, 1, 2].map((c) => x[0]! * kernel[c]! + x[1]! * kernel[3 + c]! + bias[c]!);
    const max = Math.max(...z);
    return max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0)) - z[y]!;
  };
  const penalty =
    fisher.kernel.reduce((s, f, i) => s + f * (kernel[i]! - anchorKernel[i]!) ** 2, 0) + fisher.bias.reduce((s, f, i) => s + f * (bias[i]! - anchorBias[i]!) ** 2, 0);
  const expected = (ce(rows2[0]!, 2) + ce(rows2[1]!, 2)) / 2 + ewcLambda * penalty;
  assert.ok(penalty > 1e-3, `the reference must exercise the penalty (${penalty})`);
  assert.ok(Math.abs(logged - expected) < 1e-5, `logged ${logged} vs float64 ${expected}`);
  assert.equal(updater.storedPairs().length, 2, "separate mode keeps one pair per update");
  model.dispose();
});

// With the Fisher of squared batch-mean gradients (Avalanche's), a model that fits these blobs has tiny importances:
// Renate's ewcLambda 0.4 leaves EWC at fine-tuning's level here, a large lambda makes the penalty bite.
test("EWC (separate, ewcLambda 1e6) keeps old classes better than fine-tuning on class-incremental blobs; pairs held outside tf: no tensor growth", async () => {
  await checkBeatsFineTuning(make({ ewcLambda: 1e6 }), { margin: 0.2, minOld: 0.7, minNew: 0.9 });
});

test("online EWC (ewc-online, ewcLambda 1e6) keeps old classes better than fine-tuning, with a constant tensor count", async () => {
  await checkBeatsFineTuning((o) => createUpdater("ewc-online", { ...o, ewcLambda: 1e6 } as ModelUpdaterOptions), { margin: 0.2, minOld: 0.7, minNew: 0.9 });
});

test("EWC state round trip (separate and online): resuming after update 1 is bit-identical to an uninterrupted run", async () => {
  await checkStateRoundTrip(make({ ewcLambda: 1e4 }), "ewc");
  await checkStateRoundTrip(make({ ewcLambda: 1e4, ewcMode: "online", decayFactor: 0.5 }), "ewc-online");
});

test("EWC with a multi-head model and growing classes: each pair holds the body and its task's head, grown heads padded", async () => {
  const spec = mlp({ inputShape: [2], hidden: [4], classes: 2, multiHead: true });
  const model = buildModel(spec, { seed: 0 });
  const updater = new ElasticWeightConsolidationModelUpdater({ model, ewcLambda: 10, batchSize: 4, maxEpochs: 2, seed: 0, backend: "wasm", growClasses: true });
  await updater.update({ ...chunkOf([[1, 0], [0, 1], [1, 1]], [0, 1, 0]), numClasses: 2 }, { taskId: "a" });
  await updater.update(chunkOf([[2, 0], [0, 2], [1, -1]], [2, 1, 2]), { taskId: "b" });
  assert.equal(model.numClasses, 3);
  assert.equal(updater.storedPairs().length, 2);
  const pairs = updater.storedPairs();
  assert.deepEqual(pairs[0]!.map((t) => t.name), ["dense_0/kernel", "dense_0/bias", "head_a/kernel", "head_a/bias"]);
  assert.deepEqual(pairs[1]!.map((t) => t.name), ["dense_0/kernel", "dense_0/bias", "head_b/kernel", "head_b/bias"]);
  const headA = pairs[0]!.find((t) => t.name === "head_a/kernel")!;
  assert.deepEqual(headA.shape, [4, 3], "head a's term was padded to the grown class count");
  assert.deepEqual([0, 1, 2, 3].map((row) => headA.importance[row * 3 + 2]), [0, 0, 0, 0], "the new class gets importance 0");
  assert.ok(headA.importance.some((f) => f > 0), "the old classes keep their importance");
  model.dispose();
});

test("EWC options are validated: lambda, mode and decayFactor (online only, in [0, 1]) give OptionsErrors naming them", () => {
  const spec = linearSpec;
  const bad = (options: Record<string, unknown>, name: RegExp) =>
    assert.throws(() => new ElasticWeightConsolidationModelUpdater({ model: spec, ...options } as never), (e: unknown) => e instanceof OptionsError && name.test(e.message));
  bad({ ewcLambda: -1 }, /ewcLambda/);
  bad({ ewcMode: "both" }, /ewcMode/);
  bad({ decayFactor: 0.5 }, /decayFactor applies to ewcMode "online" only/);
  bad({ ewcMode: "online", decayFactor: 1.5 }, /decayFactor/);
  bad({ memorySize: 10 }, /memorySize/);
  const defaults = new ElasticWeightConsolidationModelUpdater({ model: spec });
  assert.deepEqual([defaults.ewcLambda, defaults.ewcMode, defaults.decayFactor], [0.4, "separate", undefined]);
  const online = createUpdater("ewc-online", { model: spec }) as ElasticWeightConsolidationModelUpdater;
  assert.deepEqual([online.ewcMode, online.decayFactor], ["online", 1]);
  // The name says the mode: an ewcMode that contradicts it is an error, not silently replaced (tester H, H3).
  assert.throws(() => createUpdater("ewc-online", { model: spec, ewcMode: "separate" } as never), /updater "ewc-online" is EWC with ewcMode "online"; ewcMode "separate" contradicts it: use the updater "ewc"/);
  assert.equal((createUpdater("ewc-online", { model: spec, ewcMode: "online" } as never) as ElasticWeightConsolidationModelUpdater).ewcMode, "online");
  // A config file names them the same way; the registry ignores memorySize (EWC keeps no memory).
  const config = parseConfig({ model: { type: "mlp", inputShape: [2], hidden: [], classes: 3 }, updater: "ewc-online", options: { ewcLambda: 5, decayFactor: 0.9, memorySize: 100 } });
  const fromConfig = createUpdater(config.updater, { ...config.options, model: spec }) as ElasticWeightConsolidationModelUpdater;
  assert.deepEqual([fromConfig.ewcLambda, fromConfig.ewcMode, fromConfig.decayFactor], [5, "online", 0.9]);
});

test("a state is resumed in the EWC mode it was written with: the other mode is refused naming both, whatever the pair count (H12)", async () => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { data, spec, base } = await import("./replay_fixtures.js");
  const dir = await mkdtemp(join(tmpdir(), "relearn-ewc-mode-"));
  try {
    for (const [mode, updates] of [["separate", 1], ["separate", 2], ["online", 1]] as const) {
      const out = join(dir, `${mode}-${updates}`);
      let previous: string | undefined;
      for (let t = 0; t < updates; t++) {
        const folder = `${out}-u${t}`;
        const updater = new ElasticWeightConsolidationModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), ewcMode: mode, ...(previous ? { inputStateFolder: previous } : {}), outputStateFolder: folder });
        await updater.update(data.train[t]!);
        updater.model.dispose();
        previous = folder;
      }
      const other = mode === "separate" ? "online" : "separate";
      const resumed = new ElasticWeightConsolidationModelUpdater({ ...base, ewcMode: other, inputStateFolder: previous! });
      await assert.rejects(resumed.update(data.train[updates]!), new RegExp(`was written with ewcMode "${mode}" .*but this updater runs ewcMode "${other}"`), `${mode}, ${updates} update(s)`);
      // The same mode resumes.
      const same = new ElasticWeightConsolidationModelUpdater({ ...base, ewcMode: mode, inputStateFolder: previous! });
      await same.update(data.train[updates]!);
      same.model.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
