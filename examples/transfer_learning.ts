/**
 * Transfer learning under Repeated Distillation, runnable:
 * `npx tsx examples/transfer_learning.ts`. The standard tfjs setup: a
 * pre-trained body, frozen (`trainable = false`), with a new head on top.
 * RD trains a fresh expert and re-initialises the model at every update;
 * both keep the frozen body exactly as it was and re-draw the head only.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import {
  FineTuningModelUpdater,
  RepeatedDistillationModelUpdater,
  evaluateDataset,
  filterByClasses,
  loadFashionMnist,
} from "../src/index.js";

const { train, test } = await loadFashionMnist({ source: "bundled" });

// 1. A pre-trained body. In a real project: `await tf.loadLayersModel(url)`; here we train one quickly.
const input = tfl.input({ shape: [784] });
const body = [
  tfl.layers.dense({ units: 64, activation: "relu", name: "body_1" }),
  tfl.layers.dense({ units: 32, activation: "relu", name: "body_2" }),
];
const features = body.reduce((x, layer) => layer.apply(x) as tfl.SymbolicTensor, input);
const pretrainingHead = tfl.layers.dense({ units: 10, name: "pretraining_head" });
const pretrained = tfl.model({ inputs: input, outputs: pretrainingHead.apply(features) as tfl.SymbolicTensor });
await new FineTuningModelUpdater({ model: pretrained, maxEpochs: 3, seed: 0 }).update(train);

// 2. Freeze the body and put a new head on it: only the head is trained from now on.
for (const layer of body) layer.trainable = false;
const head = tfl.layers.dense({ units: 10, name: "head" });
const model = tfl.model({ inputs: input, outputs: head.apply(features) as tfl.SymbolicTensor });
const bodyBefore = body.flatMap((layer) => layer.getWeights().map((w) => w.dataSync().slice()));

// 3. Keep it up to date with RD, one chunk of classes at a time.
const updater = new RepeatedDistillationModelUpdater({
  model,
  memorySize: 500,
  maxEpochs: 3,
  consolidationEpochs: 10,
  // Only the head trains: a linear layer on fixed features takes a larger step than a whole network.
  optimizer: { name: "adam", learningRate: 1e-2 },
  seed: 0,
});
await updater.update(filterByClasses(train, [0, 1, 2, 3, 4]));
const first = await evaluateDataset(updater.model, filterByClasses(test, [0, 1, 2, 3, 4]));
console.log(`after update 1, accuracy on classes 0-4: ${first.accuracy.toFixed(3)}`);
await updater.update(filterByClasses(train, [5, 6, 7, 8, 9]));
const second = await evaluateDataset(updater.model, test);
console.log(`after update 2, accuracy on all 10 classes: ${second.accuracy.toFixed(3)}`);

const bodyAfter = body.flatMap((layer) => layer.getWeights().map((w) => w.dataSync()));
const unchanged = bodyBefore.every((values, i) => values.every((v, j) => Object.is(v, bodyAfter[i]![j])));
console.log(`frozen body unchanged, bit for bit: ${unchanged}`);
