/**
 * Continual-learning scenarios: a train and a test Dataset turned into a
 * sequence of updates (`ScenarioUpdate`). One file per family under
 * scenarios/; this module gathers them.
 */
export { SHARED_TASK_ID, type ScenarioData, type ScenarioUpdate } from "./scenarios/common.js";
export { classIncremental, taskIncremental, type ClassSplitOptions } from "./scenarios/class_split.js";
export { permutedFeatures, featurePermutation, type PermutedOptions } from "./scenarios/permuted.js";
export { rotatedImages, rotateImage, type RotatedOptions } from "./scenarios/rotated.js";
export { iidChunks, type IidOptions } from "./scenarios/iid.js";
export { splitByColumn, type ByColumnOptions } from "./scenarios/by_column.js";
export {
  SCENARIO_NAMES,
  isScenarioName,
  makeScenario,
  type MakeScenarioOptions,
  type ScenarioName,
} from "./scenarios/registry.js";
