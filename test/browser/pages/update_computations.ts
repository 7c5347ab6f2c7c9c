/**
 * The update computations of the browser tests (see computations.ts): whole
 * relearn updates from seeded data, returning the bytes of the weights.
 */
import { filterByClasses } from "../../../src/data/dataset_ops.js";
import { makeGaussianBlobs } from "../../../src/data/synthetic.js";
import { mlp } from "../../../src/model/spec.js";
import { createUpdater } from "../../../src/updaters/registry.js";
import { activeBackend, weightBytes, type ComputationArgs } from "./computations.js";

/**
 * Two class-incremental updates (classes 0-1, then 2-3 of seeded Gaussian
 * blobs) by `args.updater` ("rd", "er", ...) from a seeded MLP, without any
 * state; the bytes of the final weights.
 */
export async function update(args: ComputationArgs): Promise<Uint8Array> {
  const seed = Number(args["seed"] ?? 0);
  const data = makeGaussianBlobs({ numClasses: 4, samplesPerClass: 24, dims: 8, seed });
  const updater = createUpdater(String(args["updater"]), {
    model: mlp({ inputShape: [8], hidden: [16], classes: 4 }),
    memorySize: 16,
    batchSize: 8,
    maxEpochs: 2,
    seed,
    // The backend the caller started: the default "auto" would switch cpu runs to wasm.
    backend: activeBackend(),
  });
  await updater.update(filterByClasses(data, [0, 1]));
  const model = await updater.update(filterByClasses(data, [2, 3]));
  return weightBytes(model);
}

