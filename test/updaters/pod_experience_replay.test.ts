import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec, storedRowsComeFrom } from "./replay_fixtures.js";
import type { Dataset } from "../../src/data/dataset.js";
import { OptionsError, StateError } from "../../src/errors.js";
import { setChainForwardEnabled } from "../../src/model/chain_forward.js";
import { buildModel } from "../../src/model/continual_model.js";
import { cnn, mlp } from "../../src/model/spec.js";
import { extractActivationsArray } from "../../src/training/activations.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { PodExperienceReplayModelUpdater, podExperienceReplayLoss, type PodExperienceReplayOptions } from "../../src/updaters/pod_experience_replay.js";
import { podDistance, podLayout, POD_DISTILLATION_TYPES, type PodDistillationType } from "../../src/updaters/pooled_output_distillation.js";
import { createUpdater } from "../../src/updaters/registry.js";

before(async () => {
  await useBackend("wasm");
});

const LAYERS = ["dense_0_relu"];
const make = (extra: Partial<PodExperienceReplayOptions> & { memorySize: number }) => (options: ModelUpdaterOptions) =>
  new PodExperienceReplayModelUpdater({ layers: LAYERS, distillationType: "pixel", ...options, ...extra });

/** Nested arrays of one item: a vector [C] or a map [H][W][C]. */
type Item = number[] | number[][][];

/**
 * The POD distance of one item in float64, by loops over a channels-last
 * item (independent of the tensor code): square, pool, normalise, distance.
 */
function podReference(a: Item, b: Item, type: PodDistillationType, normalize: boolean): number {
  const pool = (item: Item): number[] => {
    if (typeof item[0] === "number") {
      const sq = (item as number[]).map((v) => v * v);
      return type === "channel" ? [sq.reduce((s, v) => s + v, 0)] : sq;
    }
    const map = item as number[][][];
    const [H, W, C] = [map.length, map[0]!.length, map[0]![0]!.length];
    const sq = (h: number, w: number, c: number) => map[h]![w]![c]! ** 2;
    const out: number[] = [];
    const sumOver = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i)).reduce((s, v) => s + v, 0);
    const height = () => {
      for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) out.push(sumOver(W, (w) => sq(h, w, c)));
    };
    const width = () => {
      for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out.push(sumOver(H, (h) => sq(h, w, c)));
    };
    if (type === "channel") for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out.push(sumOver(C, (c) => sq(h, w, c)));
    if (type === "width") width();
    if (type === "height") height();
    if (type === "spatial") {
      height();
      width();
    }
    if (type === "gap") for (let c = 0; c < C; c++) out.push(sumOver(H * W, (i) => sq(Math.floor(i / W), i % W, c)) / (H * W));
    if (type === "pixel") for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out.push(sq(h, w, c));
    return out;
  };
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  let pa = pool(a);
  let pb = pool(b);
  if (normalize) {
    const na = Math.max(norm(pa), 1e-12);
    const nb = Math.max(norm(pb), 1e-12);
    pa = pa.map((v) => v / na);
    pb = pb.map((v) => v / nb);
  }
  return norm(pa.map((v, i) => v - pb[i]!));
}

function distances(a: Item[], b: Item[], type: PodDistillationType, normalize: boolean): number[] {
  const before = tf.memory().numTensors;
  const result = tf.tidy(() => Array.from(podDistance(tf.tensor(a), tf.tensor(b), { distillationType: type, normalize }).dataSync()));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  return result;
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-5, `${what}: ${actual} vs ${expected}`);

test("podDistance on vectors [batch, C]: channel and pixel pooling against float64 references", () => {
  const a = [[1, -2, 0.5], [0, 3, 1]];
  const b = [[2, 1, -1], [0, 3, 1]];
  // By hand: channel sums the squares (5.25 vs 6); pixel without normalisation: |[1,4,0.25] - [4,1,1]|.
  const channel = distances(a, b, "channel", false);
  close(channel[0]!, 0.75, "channel, row 0");
  close(channel[1]!, 0, "channel, equal rows");
  const pixel = distances(a, b, "pixel", false);
  close(pixel[0]!, Math.sqrt(9 + 9 + 0.5625), "pixel, row 0");
  const pixelNormalized = distances(a, b, "pixel", true);
  const na = Math.sqrt(1 + 16 + 0.0625);
  const nb = Math.sqrt(16 + 1 + 1);
  close(pixelNormalized[0]!, Math.sqrt((1 / na - 4 / nb) ** 2 + (4 / na - 1 / nb) ** 2 + (0.25 / na - 1 / nb) ** 2), "pixel normalised, row 0");
  close(pixelNormalized[1]!, 0, "pixel normalised, equal rows");
});

test("podDistance on feature maps [batch, H, W, C]: every pooling against float64 references", () => {
  const a = [
    [[[1, 0.5], [-1, 2], [0, 1]], [[2, -0.5], [1, 1], [-3, 0]]],
    [[[0, 0], [0, 1], [1, 0]], [[0.5, 0.5], [2, -2], [1, 1]]],
  ];
  const b = [
    [[[0.5, 1], [1, 1], [2, 0]], [[1, 1], [0, -1], [1, 2]]],
    [[[1, 0], [0, 1], [1, 0]], [[0.5, 0.5], [2, -2], [1, 1]]],
  ];
  for (const type of POD_DISTILLATION_TYPES) {
    for (const normalize of [true, false]) {
      const got = distances(a, b, type, normalize);
      got.forEach((d, row) => close(d, podReference(a[row]!, b[row]!, type, normalize), `${type} normalize ${normalize} row ${row}`));
    }
  }
});

test("property: the POD distance is 0 between equal features, with finite gradients there", () => {
  const value = fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true });
  fc.assert(
    fc.property(
      fc.array(value, { minLength: 12, maxLength: 12 }),
      fc.constantFrom(...POD_DISTILLATION_TYPES),
      fc.boolean(),
      (values, type, normalize) => {
        tf.tidy(() => {
          const x = tf.tensor(values, [1, 2, 3, 2]);
          const { value: d, grad } = tf.valueAndGrad((c: tf.Tensor) => tf.sum(podDistance(c, x, { distillationType: type, normalize })))(x);
          assert.equal(d.dataSync()[0], 0);
          assert.ok(grad.dataSync().every(Number.isFinite), "gradient at equal features is finite");
          const v = tf.tensor(values.slice(0, 6), [2, 3]);
          assert.equal(tf.sum(podDistance(v, v, { distillationType: "pixel", normalize })).dataSync()[0], 0);
        });
      },
    ),
    { numRuns: 40, seed: 13 },
  );
});

test("podExperienceReplayLoss: batch mean = (CE(new) + alpha * POD(memory) + beta * CE(memory)) / (1 + alpha + beta)", () => {
  const logits = [[1, 2, 0.5], [0, -1, 3], [2, 2, 1], [0.3, 0.1, -0.2]];
  const labels = [1, 2, 0, 2];
  const current = [[1, 0, 2], [0, 1, 1], [1, -2, 0.5], [0.5, 0.5, 0]];
  const stored = [[0, 0, 0], [0, 0, 0], [2, 1, -1], [1, 1, 1]];
  const roles = [0, 0, 1, 1];
  const ce = (row: number[], label: number) => {
    const max = Math.max(...row);
    return max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0)) - row[label]!;
  };
  const [alpha, beta] = [0.6, 0.3];
  const layout = podLayout(["h"], [[3]], { distillationType: "pixel", normalize: true }, "distillationType");
  const pod = (r: number) => podReference(current[r]!, stored[r]!, "pixel", true);
  const expected = ((ce(logits[0]!, 1) + ce(logits[1]!, 2)) / 2 + (alpha * (pod(2) + pod(3))) / 2 + (beta * (ce(logits[2]!, 0) + ce(logits[3]!, 2))) / 2) / (1 + alpha + beta);
  const before = tf.memory().numTensors;
  const run = (rows: number, normalizeLoss: boolean) =>
    tf.tidy(() => {
      const targets = tf.tensor2d(roles.slice(0, rows).map((role, r) => [role, ...stored[r]!]));
      const perRow = podExperienceReplayLoss(
        tf.tensor2d(logits.slice(0, rows)),
        tf.tensor1d(labels.slice(0, rows), "int32"),
        targets,
        [tf.tensor2d(current.slice(0, rows))],
        { alpha, beta, lossFn: crossEntropyLoss, layout, pod: { distillationType: "pixel", normalize: true }, normalizeLoss },
      );
      return tf.mean(perRow).dataSync()[0]!;
    });
  close(run(4, true), expected, "normalised");
  close(run(4, false), expected * (1 + alpha + beta), "unnormalised");
  close(run(2, true), (ce(logits[0]!, 1) + ce(logits[1]!, 2)) / 2, "no memory rows: plain CE, not divided");
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

test("getLogitsAndActivations: the op chain and tfjs-layers give the same outputs, single- and multi-head; unknown names list the layers", () => {
  for (const multiHead of [false, true]) {
    const model = buildModel(mlp({ inputShape: [4], hidden: [5, 3], classes: 2, multiHead }), { seed: 1 });
    model.ensureHead("a");
    model.ensureHead("b");
    assert.deepEqual(model.bodyLayerNames(), ["dense_0", "dense_0_relu", "dense_1", "dense_1_relu"]);
    const x = tf.tensor2d([[1, 2, 3, 4], [0, -1, 1, 0], [2, 0, 0, 1]]);
    const tasks = { taskIds: ["a", "b"], rows: new Int32Array([0, 1, 1]) };
    const read = (chain: boolean, which: string | typeof tasks) => {
      setChainForwardEnabled(chain);
      try {
        const out = model.getLogitsAndActivations(x, which, true, ["dense_1_relu", "dense_0"]);
        const plain = model.getLogits(x, which, true);
        const result = { logits: Array.from(out.logits.dataSync()), plain: Array.from(plain.dataSync()), acts: out.activations.map((a) => [a.shape, Array.from(a.dataSync())]) };
        tf.dispose([out.logits, ...out.activations, plain]);
        return result;
      } finally {
        setChainForwardEnabled(true);
      }
    };
    for (const which of ["a", tasks]) {
      const chain = read(true, which);
      const layers = read(false, which);
      assert.deepEqual(chain.acts.map((a) => a[0]), [[3, 3], [3, 5]]);
      chain.logits.forEach((v, i) => close(v, chain.plain[i]!, "logits as getLogits"));
      chain.logits.forEach((v, i) => close(v, layers.logits[i]!, "logits"));
      chain.acts.forEach((a, k) => (a[1] as number[]).forEach((v, i) => close(v, (layers.acts[k]![1] as number[])[i]!, "activations")));
    }
    assert.throws(() => model.getLogitsAndActivations(x, "a", false, ["head"]), /no body layer named "head"; its body layers are: dense_0, dense_0_relu/);
    x.dispose();
    model.dispose();
  }
});

test("POD-ER stores each streamed item with its layers' outputs; the distilled rows match them", async () => {
  const updater = make({ memorySize: 500, maxEpochs: 0 } as never)({ ...base, maxEpochs: 0, model: buildModel(spec, { seed: 1 }) });
  await updater.update(data.train[0]!);
  const expected = await extractActivationsArray(updater.model, updater.memory.asDataset(), 32, "0", LAYERS);
  assert.equal(expected.width, 32);
  assert.deepEqual(Array.from(updater.memory.metadataColumn("features")), Array.from(expected.values));
  assert.ok(storedRowsComeFrom(updater.memory, [data.train[0]!]));
  updater.model.dispose();
});

test("POD-ER keeps old tasks that fine-tuning forgets; no tensor leaks", async () => {
  await checkBeatsFineTuning(make({ memorySize: 100 }), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
});

test("POD-ER state round trip: resume after update 1 == uninterrupted run; other layers on resume are refused", async () => {
  await checkStateRoundTrip(make({ memorySize: 70 }), "pod-er");
  const dir = await mkdtemp(join(tmpdir(), "relearn-pod-layers-"));
  try {
    const first = make({ memorySize: 50 })({ ...base, model: buildModel(spec, { seed: 0 }), outputStateFolder: join(dir, "v1") });
    await first.update(data.train[0]!);
    first.model.dispose();
    const other = make({ memorySize: 50, layers: ["dense_0"] })({ ...base, model: buildModel(spec, { seed: 0 }), inputStateFolder: join(dir, "v1") });
    await assert.rejects(other.update(data.train[1]!), (e: unknown) => e instanceof StateError && /dense_0_relu/.test(e.message));
    other.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("POD-ER on a CNN: spatial pooling of a conv layer's feature maps", async () => {
  const asImages = (d: Dataset): Dataset => ({ ...d, featureShape: [2, 5, 1] });
  const model = buildModel(cnn({ inputShape: [2, 5, 1], conv: [{ filters: 3, kernelSize: 2 }], dense: [8], classes: 6 }), { seed: 0 });
  const updater = new PodExperienceReplayModelUpdater({ ...base, maxEpochs: 2, model, memorySize: 40, layers: ["conv_0_relu", "dense_0_relu"], distillationType: "channel", normalize: false });
  await updater.update(asImages(data.train[0]!));
  await updater.update(asImages(data.train[1]!));
  assert.equal(updater.memory.metadataColumn("features").length, 40 * (2 * 5 * 3 + 8));
  const spatial = new PodExperienceReplayModelUpdater({ ...base, maxEpochs: 1, model, memorySize: 40, layers: ["conv_0_relu"] });
  await spatial.update(asImages(data.train[2]!));
  assert.ok(spatial.lastUpdatePhases[0]!.history.every((logs) => Number.isFinite(logs["train_loss"])));
  model.dispose();
});

test("POD-ER options: Renate's defaults; no layer, unknown layers and poolings a layer cannot take are OptionsErrors", async () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = new PodExperienceReplayModelUpdater({ ...base, model, memorySize: 10, layers: LAYERS });
  assert.deepEqual([updater.alpha, updater.beta, updater.pod, updater.normalizeLoss, updater.memoryBatchSize], [1, 1, { distillationType: "spatial", normalize: true }, true, 32]);
  const refuses = (options: object, pattern: RegExp) =>
    assert.throws(() => new PodExperienceReplayModelUpdater({ ...base, model, memorySize: 10, ...options } as PodExperienceReplayOptions), (e: unknown) => e instanceof OptionsError && pattern.test(e.message));
  refuses({}, /layers must name at least one body layer/);
  refuses({ layers: [] }, /layers must name at least one body layer/);
  refuses({ layers: LAYERS, alpha: -1 }, /alpha/);
  refuses({ layers: LAYERS, distillationType: "mean" }, /distillationType/);
  assert.throws(() => createUpdater("pod-er", { ...base, model, memorySize: 10 }), (e: unknown) => e instanceof OptionsError && /layers/.test(e.message));
  const firstUpdate = async (options: Partial<PodExperienceReplayOptions>, pattern: RegExp) => {
    const u = new PodExperienceReplayModelUpdater({ ...base, model, memorySize: 10, layers: LAYERS, ...options });
    await assert.rejects(u.update(data.train[0]!), (e: unknown) => e instanceof OptionsError && pattern.test(e.message));
  };
  await firstUpdate({ layers: ["dense_7"] }, /no body layer named "dense_7"; its body layers are: dense_0, dense_0_relu/);
  await firstUpdate({}, /"spatial" pools over the height and width.*dense_0_relu" outputs \[batch, 32\].*"channel".*"pixel"/);
  await firstUpdate({ distillationType: "gap" }, /"gap" pools over the height and width/);
  await firstUpdate({ distillationType: "channel" }, /always be 0/);
  model.dispose();
});
