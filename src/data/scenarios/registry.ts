/**
 * Scenarios by name, for the CLI and benchmarks: one options object for all,
 * each scenario reading the fields it understands.
 */
import { OptionsError } from "../../errors.js";
import { classIncremental, taskIncremental } from "./class_split.js";
import type { ScenarioData, ScenarioUpdate } from "./common.js";
import { iidChunks } from "./iid.js";
import { permutedFeatures } from "./permuted.js";
import { rotatedImages } from "./rotated.js";

/** The scenarios `makeScenario` knows. */
export const SCENARIO_NAMES = ["class-incremental", "task-incremental", "permuted", "rotated", "iid"] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Options of `makeScenario`; fields a scenario does not use are ignored. */
export interface MakeScenarioOptions extends ScenarioData {
  /** Number of updates (the number of chunks for "iid"). */
  tasks: number;
  seed: number;
  /** class-/task-incremental. */
  classOrder?: readonly number[] | "natural" | "seeded";
  /** permuted, rotated: samples per update. */
  trainPerTask?: number;
  testPerTask?: number;
  /** rotated. */
  angles?: readonly number[];
  imageShape?: readonly number[];
}

/** True when `name` is one of SCENARIO_NAMES. */
export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** Builds the named scenario's updates; an unknown name is an OptionsError listing the known ones. */
export function makeScenario(name: string, options: MakeScenarioOptions): ScenarioUpdate[] {
  if (!isScenarioName(name)) {
    throw new OptionsError(`unknown scenario ${JSON.stringify(name)}; known: ${SCENARIO_NAMES.join(", ")}`);
  }
  const { train, test, tasks, seed } = options;
  const perTask = {
    ...(options.trainPerTask !== undefined && { trainPerTask: options.trainPerTask }),
    ...(options.testPerTask !== undefined && { testPerTask: options.testPerTask }),
  };
  switch (name) {
    case "class-incremental":
    case "task-incremental": {
      refusePerTask(name, perTask, "takes every item of each task's classes");
      const split = { train, test, tasks, seed, ...(options.classOrder !== undefined && { classOrder: options.classOrder }) };
      return name === "class-incremental" ? classIncremental(split) : taskIncremental(split);
    }
    case "permuted":
      return permutedFeatures({ train, test, tasks, seed, ...perTask });
    case "rotated":
      return rotatedImages({
        train, test, tasks, seed, ...perTask,
        ...(options.angles !== undefined && { angles: options.angles }),
        ...(options.imageShape !== undefined && { imageShape: options.imageShape }),
      });
    case "iid":
      refusePerTask(name, perTask, "splits every item into the chunks");
      return iidChunks({ train, test, chunks: tasks, seed });
  }
}

/** A per-task count given to a scenario that does not sample per task: an error, as it would be ignored silently (tester G, F19). */
function refusePerTask(name: string, perTask: object, what: string): void {
  const given = Object.keys(perTask);
  if (given.length > 0) {
    throw new OptionsError(`${given.join(" and ")} apply to the permuted and rotated scenarios only; ${name} ${what} (subsample the data files instead)`);
  }
}
