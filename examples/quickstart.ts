/**
 * The README's quick start, runnable: `npx tsx examples/quickstart.ts`.
 * Two updates of Repeated Distillation on the bundled Fashion-MNIST subset,
 * the second one in a fresh updater that resumes from the first one's state.
 */
import {
  RepeatedDistillationModelUpdater,
  buildModel,
  mlp,
  loadFashionMnist,
  filterByClasses,
  evaluateDataset,
} from "../src/index.js";

const stateRoot = process.argv[2] ?? "state";
const { train, test } = await loadFashionMnist({ source: "bundled" });
const chunk1 = filterByClasses(train, [0, 1, 2, 3, 4]);
const chunk2 = filterByClasses(train, [5, 6, 7, 8, 9]);
const val1 = filterByClasses(test, [0, 1, 2, 3, 4]);

const spec = mlp({ inputShape: [784], hidden: [256, 256], classes: 10 });
const options = {
  memorySize: 500,
  batchSize: 32,
  optimizer: { name: "adam", learningRate: 1e-3 },
  maxEpochs: 5,
  seed: 0,
} as const;

const updater = new RepeatedDistillationModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), outputStateFolder: `${stateRoot}/v1` });
await updater.update(chunk1, { valDataset: val1, taskId: "default_task" });
console.log(`backend: ${updater.backendInfo?.name}; after update 1, accuracy on classes 0-4: ${(await evaluateDataset(updater.model, val1)).accuracy.toFixed(3)}`);

// later, in another process: resume from state/v1, write state/v2
const next = new RepeatedDistillationModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), inputStateFolder: `${stateRoot}/v1`, outputStateFolder: `${stateRoot}/v2` });
await next.update(chunk2);
console.log(`after update 2, accuracy on all 10 classes: ${(await evaluateDataset(next.model, test)).accuracy.toFixed(3)}`);
