// The numerics freeze of issue 14's third round: MLP training must give the
// same weights, bit for bit, as at commit 3c5e4a8 (the issue-13 results grid
// runs from it). Each case trains a fresh MLP through the training loop, on
// the whole-step path and on the general path (tf.variableGrads), and hashes
// the weights' bits; the expected hashes were computed by this same file run
// in a `git archive` of 3c5e4a8. A change to the MLP path's kernels (the
// matmul and relearn's GEMM, the fused bias + ReLU, the losses, the
// optimizers and plain SGD's fused update) that moves one bit fails here.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import type { Dataset } from "../../src/data/dataset.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp, type ModelSpec } from "../../src/model/spec.js";
import { datasetSource } from "../../src/training/batch_source.js";
import { crossEntropyBatchLoss } from "../../src/training/losses.js";
import { trainModel, type TrainOptions } from "../../src/training/loop.js";
import { setDenseChainStepEnabled } from "../../src/training/dense_chain_step.js";
import { Random } from "../../src/random.js";

after(() => setDenseChainStepEnabled(true));

/** 300 random 784-pixel rows (batches of 128 leave a ragged 44). */
function randomImages(): Dataset {
  const random = Random.fromSeed(7);
  const rows = 300;
  const features = Float32Array.from({ length: rows * 784 }, () => random.float());
  const labels = Int32Array.from({ length: rows }, () => random.int(0, 9));
  return { features, labels, featureShape: [784], numClasses: 10, length: rows };
}

// 3 x 25 = 75 rows: batches of 16 leave a ragged 11 (two blocks of 4 rows and 3 single rows in the GEMM); 20 inputs,
// 24 and 12 hidden units, 3 classes (whole 8-column tiles, a tile and 4 single columns, single columns only).
const blobs = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 25, dims: 20, seed: 4, sampleSeed: 2 });

const cases: Array<{ name: string; spec: ModelSpec; data: Dataset; extra: Partial<TrainOptions> }> = [
  {
    name: "MLP 784-256-256-10, SGD, batch 128",
    spec: mlp({ inputShape: [784], hidden: [256, 256], classes: 10 }),
    data: randomImages(),
    extra: { batchSize: 128, epochs: 2, optimizer: { name: "sgd", learningRate: 0.01 } },
  },
  {
    name: "MLP 784-256-256-10, Adam, batch 32",
    spec: mlp({ inputShape: [784], hidden: [256, 256], classes: 10 }),
    data: randomImages(),
    extra: { batchSize: 32, epochs: 1, optimizer: { name: "adam", learningRate: 1e-3 } },
  },
  {
    name: "MLP 20-24-12-3, SGD with momentum, dropout, ragged batches",
    spec: mlp({ inputShape: [20], hidden: [24, 12], classes: 3, dropout: 0.2 }),
    data: blobs,
    extra: { batchSize: 16, epochs: 3, optimizer: { name: "sgd", learningRate: 0.1, momentum: 0.9 } },
  },
  {
    name: "MLP 20-24-12-3, plain SGD, ragged batches",
    spec: mlp({ inputShape: [20], hidden: [24, 12], classes: 3 }),
    data: blobs,
    extra: { batchSize: 16, epochs: 3, optimizer: { name: "sgd", learningRate: 0.05 } },
  },
  {
    name: "MLP 20-24-12-3, Adam, ragged batches",
    spec: mlp({ inputShape: [20], hidden: [24, 12], classes: 3 }),
    data: blobs,
    extra: { batchSize: 16, epochs: 3, optimizer: { name: "adam", learningRate: 1e-2 } },
  },
];

/** SHA-256 of the trained weights' bits, in the model's weight order. */
async function trainedWeightsHash(spec: ModelSpec, data: Dataset, extra: Partial<TrainOptions>, wholeStep: boolean): Promise<string> {
  setDenseChainStepEnabled(wholeStep);
  const model = buildModel(spec, { seed: 0 });
  try {
    await trainModel({ model, taskId: "default_task", phase: "test", data: datasetSource(data), loss: crossEntropyBatchLoss, batchSize: 16, epochs: 1, seed: 3, optimizer: { name: "sgd", learningRate: 0.1 }, ...extra });
    const hash = createHash("sha256");
    const snapshot = model.snapshotWeights();
    for (const t of snapshot) hash.update(new Uint8Array(Float32Array.from(t.dataSync()).buffer));
    tf.dispose(snapshot);
    return hash.digest("hex");
  } finally {
    setDenseChainStepEnabled(true);
    model.dispose();
  }
}

/** The hashes at 3c5e4a8, by backend and case. */
const EXPECTED: Record<string, Record<string, string>> = {
  wasm: {
    "MLP 784-256-256-10, SGD, batch 128": "56ce8fd8ffe2779775fab56b2d1dbfd9bdfc8302b8a1a64bda9cee7fff63e4f5",
    "MLP 784-256-256-10, Adam, batch 32": "6a9812cbb2e61e15aa5db80b71805a8993173c560a6eed3118cfccca5d26ea28",
    "MLP 20-24-12-3, SGD with momentum, dropout, ragged batches": "9e42efd9d855a5306891b141882beaec2e648bf4a98be5ed9e2f80be25d0c47e",
    "MLP 20-24-12-3, plain SGD, ragged batches": "648f1c078e5a2f447414a46b8055e627f613c6cb10073c13e4398eac7f995c40",
    "MLP 20-24-12-3, Adam, ragged batches": "9ca3777c5997a884c49607bbca68e5782a4ee72556f3c01030c9366b88b0da8a",
  },
  cpu: {
    "MLP 784-256-256-10, SGD, batch 128": "c488dbc84f3c2e13dc28d983df4eaf48a6611a3cbaa61fa26aadebd2f472cca6",
    "MLP 784-256-256-10, Adam, batch 32": "1b9ff2a0884f32b348f730fdea6c91f17327677624e7d35e2c9f47b877a25dec",
    "MLP 20-24-12-3, SGD with momentum, dropout, ragged batches": "058b7f4cbe9361eb01433ade10548503f6baad645307b5c0a52c2e0f4434b2df",
    "MLP 20-24-12-3, plain SGD, ragged batches": "233274c535995b8489fe9fd20602c5c230f52dbbd10249ae8ad8f2a29caa3168",
    "MLP 20-24-12-3, Adam, ragged batches": "1a3e04e487bc6433d1cdf66841c0faf821a9d6a4c66e8d15d681c695d3af0d28",
  },
};

for (const backend of ["wasm", "cpu"] as const) {
  for (const { name, spec, data, extra } of cases) {
    test(`${backend}, ${name}: the trained weights are those of 3c5e4a8, bit for bit (whole step and general path)`, async () => {
      await useBackend(backend);
      const whole = await trainedWeightsHash(spec, data, extra, true);
      const general = await trainedWeightsHash(spec, data, extra, false);
      if (process.env.PRINT_FREEZE_HASHES) console.log(`HASH ${backend} | ${name} | ${whole} | ${general}`);
      assert.equal(general, whole, "the general path and the whole step differ");
      assert.equal(whole, EXPECTED[backend]![name], "the weights moved from 3c5e4a8's");
    });
  }
}
