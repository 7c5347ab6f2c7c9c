import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { filterByClasses } from "../../src/data/dataset_ops.js";
import { buildModel, type ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { datasetSource } from "../../src/training/batch_source.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import { trainModel, type TrainOptions } from "../../src/training/loop.js";
import { evaluateDataset } from "../../src/training/evaluate.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";

before(async () => {
  await useBackend("wasm");
});

const train = makeGaussianBlobs({ numClasses: 4, samplesPerClass: 40, dims: 8, seed: 5, sampleSeed: 1 });
const val = makeGaussianBlobs({ numClasses: 4, samplesPerClass: 20, dims: 8, seed: 5, sampleSeed: 2 });
const spec = mlp({ inputShape: [8], hidden: [16], classes: 4 });

function options(model: ContinualModel, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model,
    taskId: "default_task",
    phase: "test",
    data: datasetSource(train),
    loss: (logits, batch) => crossEntropyLoss(logits, batch.labels),
    batchSize: 16,
    epochs: 4,
    optimizer: { name: "adam", learningRate: 1e-2 },
    seed: 1,
    ...extra,
  };
}

async function weights(model: ContinualModel): Promise<number[][]> {
  const snapshot = model.snapshotWeights();
  const out = snapshot.map((t) => Array.from(t.dataSync()));
  tf.dispose(snapshot);
  return out;
}

test("the loop learns, logs train_ and val_ metrics per epoch, and leaks nothing", async () => {
  const model = buildModel(spec, { seed: 0 });
  const before = tf.memory().numTensors;
  const result = await trainModel(
    options(model, { validation: { sources: [{ data: datasetSource(val), taskId: "default_task" }], loss: crossEntropyLoss } }),
  );
  assert.equal(tf.memory().numTensors, before);
  assert.equal(result.epochsRun, 4);
  assert.deepEqual(Object.keys(result.history[0]!).sort(), ["train_accuracy", "train_loss", "val_accuracy", "val_loss"]);
  assert.ok(result.history[3]!.train_loss! < result.history[0]!.train_loss!);
  assert.ok((await evaluateDataset(model, val)).accuracy > 0.9);
  model.dispose();
});

test("same seed, same backend: identical weights; another seed: different", async () => {
  const run = async (seed: number) => {
    const model = buildModel(spec, { seed: 0 });
    await trainModel(options(model, { seed, epochs: 2 }));
    const w = await weights(model);
    model.dispose();
    return w;
  };
  assert.deepEqual(await run(7), await run(7));
  assert.notDeepEqual(await run(7), await run(8));
});

test("callbacks: object literals, called in order and awaited, with the schedule's learning rate", async () => {
  const model = buildModel(spec, { seed: 0 });
  const seen: string[] = [];
  const rates: number[] = [];
  await trainModel(
    options(model, {
      epochs: 3,
      learningRateSchedule: { type: "step", stepSize: 1, gamma: 0.5 },
      callbacks: [
        {
          onEpochBegin: async (e: TrainingEvent) => {
            await new Promise((r) => setTimeout(r, 5));
            seen.push(`a${e.epoch}`);
            rates.push(e.learningRate);
          },
        },
        { onEpochBegin: (e: TrainingEvent) => void seen.push(`b${e.epoch}`), onTrainEnd: () => void seen.push("end") },
      ],
    }),
  );
  assert.deepEqual(seen, ["a0", "b0", "a1", "b1", "a2", "b2", "end"]);
  assert.deepEqual(rates, [1e-2, 5e-3, 2.5e-3]);
  model.dispose();
});

test("a callback can stop training; early stopping stops after `patience` epochs without improvement and restores the best", async () => {
  const model = buildModel(spec, { seed: 0 });
  const stopped = await trainModel(options(model, { epochs: 10, callbacks: [{ onEpochEnd: (e) => void (e.control.stopTraining = e.epoch === 1) }] }));
  assert.equal(stopped.epochsRun, 2);

  // A learning rate this large makes val_loss blow up after the first epochs: early stopping must end the run
  // and put back the weights of the best epoch.
  const snapshots: number[][][] = [];
  const valSource = { sources: [{ data: datasetSource(val), taskId: "default_task" }], loss: crossEntropyLoss };
  const result = await trainModel(
    options(model, {
      epochs: 30,
      optimizer: { name: "sgd", learningRate: 3 },
      validation: valSource,
      monitor: { metric: "val_loss", mode: "min", earlyStopping: true, patience: 2, restoreBest: true },
      callbacks: [{ onEpochEnd: async () => void snapshots.push(await weights(model)) }],
    }),
  );
  assert.ok(result.stoppedEarly, "stopped early");
  assert.ok(result.epochsRun < 30);
  assert.equal(result.epochsRun, result.bestEpoch! + 3, "patience 2: two epochs after the best, then stop");
  const losses = result.history.map((h) => h.val_loss!);
  assert.equal(Math.min(...losses), losses[result.bestEpoch!]);
  assert.deepEqual(await weights(model), snapshots[result.bestEpoch!], "the best epoch's weights are restored");
  model.dispose();
});

test("masking unused classes keeps absent classes' output biases untouched", async () => {
  const model = buildModel(spec, { seed: 0 });
  const twoClasses = filterByClasses(train, [0, 1]);
  const headBias = async () => (await weights(model)).at(-1)!;
  const before = await headBias();
  await trainModel(options(model, { data: datasetSource(twoClasses), allowedClasses: [0, 1] }));
  const after = await headBias();
  assert.notEqual(after[0], before[0]);
  assert.ok(Math.abs(after[2]! - before[2]!) < 1e-6 && Math.abs(after[3]! - before[3]!) < 1e-6, `${before} -> ${after}`);
  // without the mask, cross-entropy pushes the absent classes down
  await trainModel(options(model, { data: datasetSource(twoClasses) }));
  const unmasked = await headBias();
  assert.ok(unmasked[2]! < after[2]! - 1e-3);
  model.dispose();
});

test("gradient clipping by norm bounds an SGD step to lr * clip", async () => {
  const model = buildModel(spec, { seed: 0 });
  const before = (await weights(model)).flat();
  await trainModel(
    options(model, { epochs: 1, stepsPerEpoch: 1, optimizer: { name: "sgd", learningRate: 0.1 }, gradientClipping: { value: 0.01, algorithm: "norm" } }),
  );
  const after = (await weights(model)).flat();
  const stepNorm = Math.sqrt(after.reduce((s, v, i) => s + (v - before[i]!) ** 2, 0));
  assert.ok(stepNorm <= 0.1 * 0.01 * 1.001 && stepNorm > 0.1 * 0.01 * 0.99, `step norm ${stepNorm}`);
  model.dispose();
});

test("stepsPerEpoch larger than one pass wraps around the shuffled data", async () => {
  const model = buildModel(spec, { seed: 0 });
  const steps: number[] = [];
  await trainModel(options(model, { epochs: 1, stepsPerEpoch: 25, callbacks: [{ onBatchEnd: (e) => void steps.push(e.step) }] }));
  assert.equal(steps.length, 25);
  model.dispose();
});
