/**
 * The work bench/browser.ts measures, shared by Node and the browser so both
 * run the same code on the same data: the bundled Fashion-MNIST subset's
 * classes 0-1 then 2-3, an MLP 784-256-256-10, RD with memory 200, batch 32,
 * one epoch per phase. Imports only the core (bundled for the browser).
 */
import * as tf from "@tensorflow/tfjs-core";
import { createDataset, type Dataset } from "../src/data/dataset.js";
import { filterByClasses } from "../src/data/dataset_ops.js";
import { parseIdx } from "../src/data/idx.js";
import type { BackendName } from "../src/backend/backend.js";
import { buildModel } from "../src/model/continual_model.js";
import { mlp } from "../src/model/spec.js";
import { crossEntropyLoss } from "../src/training/losses.js";
import { TrainingOptimizer } from "../src/training/optimizers.js";
import { createUpdater } from "../src/updaters/registry.js";

/** What one run measured, in milliseconds. */
export interface BrowserBenchResult {
  /** From `startedAt` (page: navigation start) to the end of the first RD update: data, backend start, update. */
  firstUpdateMs: number;
  /** One warm RD update (classes 2-3, 4-5 or 6-7 after 0-1: the fastest of the three). */
  rdUpdateMs: number;
  /** One Adam training step of the MLP at batch 32 (RD's expert step), mean of the fastest of 3 rounds. */
  msPerStep: number;
}

const SPEC = mlp({ inputShape: [784], hidden: [256, 256], classes: 10 });

/** Gunzips with the platform's DecompressionStream (browsers and Node 18+). */
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The bundled subset's train split from its two .gz files. */
export async function fashionMnistFromGzip(imagesGz: Uint8Array, labelsGz: Uint8Array): Promise<Dataset> {
  const images = parseIdx(await gunzip(imagesGz), "train-images");
  const labels = parseIdx(await gunzip(labelsGz), "train-labels");
  const features = Float32Array.from(images.data, (v) => v / 255);
  return createDataset({ features, labels: Int32Array.from(labels.data), featureShape: [784], numClasses: 10 }, "fashion-mnist subset");
}

/**
 * Runs the measured work on the active backend. `load` fetches the data
 * (timed as part of the first update), `startedAt` is the performance.now()
 * the first-update time counts from.
 */
export async function runBrowserBench(load: () => Promise<Dataset>, startedAt: number): Promise<BrowserBenchResult> {
  const data = await load();
  const updater = createUpdater("rd", { model: SPEC, memorySize: 200, batchSize: 32, maxEpochs: 1, seed: 0, backend: tf.getBackend() as BackendName });
  await updater.update(filterByClasses(data, [0, 1]));
  const firstUpdateMs = performance.now() - startedAt;
  // The fastest of three warm updates (same size: 2,000 images each): the machine is shared.
  let rdUpdateMs = Number.POSITIVE_INFINITY;
  for (const classes of [[2, 3], [4, 5], [6, 7]]) {
    const start = performance.now();
    await updater.update(filterByClasses(data, classes));
    rdUpdateMs = Math.min(rdUpdateMs, performance.now() - start);
  }
  updater.model.dispose();
  return { firstUpdateMs, rdUpdateMs, msPerStep: adamStepMs() };
}

/** ms per Adam step of the MLP at batch 32 on a fixed random batch. */
function adamStepMs(): number {
  const model = buildModel(SPEC, { seed: 0 });
  const x = tf.randomUniform([32, 784], 0, 1, "float32", 1);
  const y = tf.tensor1d(Int32Array.from({ length: 32 }, (_, i) => i % 10), "int32");
  const variables = model.trainableVariables();
  const optimizer = new TrainingOptimizer({ name: "adam", learningRate: 1e-3 });
  const loss = (): tf.Scalar => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y));
  const step = (): void => {
    const { value, grads } = tf.variableGrads(loss, variables);
    optimizer.step(grads, variables);
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < 5; i++) step();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < 30; i++) step();
    // webgl runs asynchronously: wait for the GPU queue before reading the clock.
    variables[0]?.dataSync();
    best = Math.min(best, (performance.now() - start) / 30);
  }
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return best;
}
