/**
 * Class-incremental and task-incremental scenarios: the classes are split
 * into groups and update i brings the samples of group i. The two differ only
 * in the task id: class-incremental uses one shared head (the task is unknown
 * at test time), task-incremental a head per task. Labels keep their global
 * values in both, so every head has the full label space.
 */
import { DataError, OptionsError } from "../../errors.js";
import { classesPresent, filterByClasses } from "../dataset_ops.js";
import {
  SHARED_TASK_ID,
  checkInteger,
  checkTrainTest,
  checkSeed,
  seededRandom,
  type ScenarioData,
  type ScenarioUpdate,
} from "./common.js";

/** Options of `classIncremental` and `taskIncremental`. */
export interface ClassSplitOptions extends ScenarioData {
  /** Number of updates; the classes must divide evenly. Optional when `groups` is given. */
  tasks?: number;
  /**
   * Order in which classes are dealt into groups: an explicit permutation of
   * the classes present in `train`, "natural" (increasing) or "seeded"
   * (shuffled with `seed`, the default).
   */
  classOrder?: readonly number[] | "natural" | "seeded";
  /** Explicit class groups, one per update (any sizes); excludes `classOrder`. */
  groups?: readonly (readonly number[])[];
  seed: number;
}

/** Class-incremental updates: each brings new classes; one head (taskId "default_task") for all. */
export function classIncremental(options: ClassSplitOptions): ScenarioUpdate[] {
  return splitClasses("classIncremental", options, () => SHARED_TASK_ID);
}

/** Task-incremental updates: the class split of `classIncremental`, with taskId `task-<i>` (a head per task). */
export function taskIncremental(options: ClassSplitOptions): ScenarioUpdate[] {
  return splitClasses("taskIncremental", options, (i) => `task-${i}`);
}

function splitClasses(
  scenario: string,
  options: ClassSplitOptions,
  taskIdOf: (index: number) => string,
): ScenarioUpdate[] {
  checkTrainTest(scenario, options);
  checkSeed(scenario, options.seed);
  const groups = classGroups(scenario, options);
  return groups.map((group, i) => {
    const classes = [...group].sort((a, b) => a - b);
    const test = filterByClasses(options.test, classes);
    if (test.length === 0) {
      throw new DataError(`${scenario}: update ${i + 1} (classes ${classes.join(", ")}) has no test samples`);
    }
    return { taskId: taskIdOf(i), train: filterByClasses(options.train, classes), test, classes };
  });
}

function classGroups(scenario: string, options: ClassSplitOptions): number[][] {
  const present = classesPresent(options.train);
  if (options.groups !== undefined) {
    if (options.classOrder !== undefined) {
      throw new OptionsError(`${scenario}: give either groups or classOrder, not both`);
    }
    if (options.tasks !== undefined && options.tasks !== options.groups.length) {
      throw new OptionsError(
        `${scenario}: tasks = ${options.tasks} but ${options.groups.length} groups were given`,
      );
    }
    checkPartition(scenario, "groups", options.groups.flat(), present);
    options.groups.forEach((group, i) => {
      if (group.length === 0) throw new OptionsError(`${scenario}: groups[${i}] is empty`);
    });
    return options.groups.map((group) => [...group]);
  }

  const tasks = checkInteger(scenario, "tasks", options.tasks, 1);
  if (tasks > present.length) {
    throw new OptionsError(
      `${scenario}: tasks = ${tasks} exceeds the ${present.length} classes present in the train set`,
    );
  }
  if (present.length % tasks !== 0) {
    throw new OptionsError(
      `${scenario}: ${present.length} classes cannot be split into ${tasks} equal groups; ` +
        `choose tasks dividing ${present.length} or pass explicit groups`,
    );
  }
  const order = classOrder(scenario, options, present);
  const perTask = present.length / tasks;
  return Array.from({ length: tasks }, (_, i) => order.slice(i * perTask, (i + 1) * perTask));
}

function classOrder(scenario: string, options: ClassSplitOptions, present: number[]): number[] {
  const order = options.classOrder ?? "seeded";
  if (order === "natural") return present;
  if (order === "seeded") {
    return seededRandom(options.seed, "class-order").shuffle([...present]);
  }
  if (!Array.isArray(order)) {
    throw new OptionsError(
      `${scenario}: classOrder must be "natural", "seeded" or a list of classes, got ${JSON.stringify(order)}`,
    );
  }
  checkPartition(scenario, "classOrder", order, present);
  return [...order];
}

/** Checks that `listed` holds every class of `present` exactly once and nothing else. */
function checkPartition(scenario: string, option: string, listed: readonly number[], present: number[]): void {
  const seen = new Set<number>();
  for (const label of listed) {
    if (!present.includes(label)) {
      throw new OptionsError(
        `${scenario}: ${option} lists class ${label}, which has no train samples ` +
          `(classes present: ${present.join(", ")})`,
      );
    }
    if (seen.has(label)) throw new OptionsError(`${scenario}: ${option} lists class ${label} twice`);
    seen.add(label);
  }
  const missing = present.filter((label) => !seen.has(label));
  if (missing.length > 0) {
    throw new OptionsError(`${scenario}: ${option} misses class(es) ${missing.join(", ")} of the train set`);
  }
}
