/**
 * Data-incremental scenario: the train set arrives in random chunks of the
 * same distribution, and every update is tested on the whole test set.
 */
import { DataError } from "../../errors.js";
import { classesPresent, subsetDataset } from "../dataset_ops.js";
import {
  SHARED_TASK_ID,
  checkInteger,
  checkSeed,
  checkTrainTest,
  seededRandom,
  type ScenarioData,
  type ScenarioUpdate,
} from "./common.js";

/** Options of `iidChunks`. */
export interface IidOptions extends ScenarioData {
  chunks: number;
  seed: number;
}

/**
 * The train set shuffled and cut into `chunks` parts whose sizes differ by at
 * most one (the first `length % chunks` get the extra sample), so together
 * they hold every train sample exactly once. The test set is the same object
 * in every update (Datasets are not mutated).
 */
export function iidChunks(options: IidOptions): ScenarioUpdate[] {
  const scenario = "iidChunks";
  checkTrainTest(scenario, options);
  const chunks = checkInteger(scenario, "chunks", options.chunks, 1);
  const seed = checkSeed(scenario, options.seed);
  const { train, test } = options;
  if (chunks > train.length) {
    throw new DataError(`${scenario}: ${chunks} chunks of ${train.length} train samples would leave empty updates`);
  }
  const order = seededRandom(seed, "iid-order").permutation(train.length);
  const base = Math.floor(train.length / chunks);
  const extra = train.length % chunks;
  let start = 0;
  return Array.from({ length: chunks }, (_, i) => {
    const size = base + (i < extra ? 1 : 0);
    const chunk = subsetDataset(train, order.subarray(start, start + size));
    start += size;
    return { taskId: SHARED_TASK_ID, train: chunk, test, classes: classesPresent(chunk) };
  });
}
