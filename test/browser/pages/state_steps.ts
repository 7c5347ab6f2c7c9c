/**
 * Updates that go through stored states, for the browser tests of issue 11
 * part 5 (b)-(e): the same seeded data and model as update_computations.ts,
 * one update per call, reading the state `input` and writing `output` in the
 * host's default store (IndexedDB in a browser, folders in Node).
 */
import { filterByClasses } from "../../../src/data/dataset_ops.js";
import { makeGaussianBlobs } from "../../../src/data/synthetic.js";
import { mlp } from "../../../src/model/spec.js";
import { createUpdater } from "../../../src/updaters/registry.js";
import { activeBackend, weightBytes } from "./computations.js";

/** One update of a stored-state run. */
export interface StepArgs {
  updater: string;
  seed: number;
  /** Which task: 0 learns classes 0-1, 1 learns classes 2-3. */
  task: number;
  /** The state to continue from; none: a fresh seeded model. */
  input?: string;
  /** The state to write. */
  output: string;
}

/** The classes of each task. */
const TASKS = [[0, 1], [2, 3]] as const;

/** Runs one update and returns the bytes of the updated model's weights. */
export async function updateStep(args: StepArgs): Promise<Uint8Array> {
  const classes = TASKS[args.task];
  if (classes === undefined) throw new Error(`task must be 0 or 1; got ${args.task}`);
  const data = makeGaussianBlobs({ numClasses: 4, samplesPerClass: 24, dims: 8, seed: args.seed });
  const updater = createUpdater(args.updater, {
    ...(args.input === undefined ? { model: mlp({ inputShape: [8], hidden: [16], classes: 4 }) } : { inputStateFolder: args.input }),
    outputStateFolder: args.output,
    memorySize: 16,
    batchSize: 8,
    maxEpochs: 2,
    seed: args.seed,
    // The backend the caller started: the default "auto" would switch cpu runs to wasm.
    backend: activeBackend(),
  });
  const model = await updater.update(filterByClasses(data, classes));
  try {
    return await weightBytes(model);
  } finally {
    model.dispose();
  }
}

/** The bytes of the weights of the model stored in state `name` (loaded as `updater` resumes it). */
export async function storedWeights(updater: string, name: string): Promise<Uint8Array> {
  const resumed = createUpdater(updater, { inputStateFolder: name, memorySize: 16, backend: activeBackend() });
  await resumed.prepare();
  try {
    return await weightBytes(resumed.model);
  } finally {
    resumed.model.dispose();
  }
}
