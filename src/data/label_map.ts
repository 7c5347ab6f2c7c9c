/**
 * Class names: the map between the labels users write ("cat", "dog") and the
 * class indices a model outputs. `classNames[i]` is the name of class i, so the
 * map is a list and its order is the meaning: once a state has trained with
 * it, a name's index never changes. A map grows only by appending
 * (`extendLabelMap`), which keeps every existing index.
 *
 * Host-neutral (no `node:` imports): CSV parsing in every host uses it.
 */
import { DataError, OptionsError } from "../errors.js";

/**
 * `map` followed by the labels of `newLabels` it does not hold yet, those in sorted order
 * (JavaScript's default string order, by UTF-16 code unit: the same in every host and locale,
 * "Cat" before "cat", "class10" before "class2"). Existing names keep their indices, so a model
 * trained with `map` stays right for them; the new names get the next indices, in an order that
 * does not depend on the order of the rows. `extendLabelMap([], labels)` builds a map from data.
 * Does not change `map`.
 */
export function extendLabelMap(map: readonly string[], newLabels: Iterable<string>): string[] {
  const known = new Set(map);
  const added = new Set<string>();
  for (const label of newLabels) if (!known.has(label)) added.add(label);
  return [...map, ...[...added].sort()];
}

/** The names in `names` that are empty or repeated, for errors; [] when the list is a valid map. */
function namingProblems(names: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (name.trim() === "") problems.push(`class ${index} has an empty name`);
    const first = seen.get(name);
    if (first !== undefined) problems.push(`"${name}" names both class ${first} and class ${index}`);
    else seen.set(name, index);
  });
  return problems;
}

/** Throws an OptionsError naming `source` when `names` has an empty or repeated name. */
export function checkClassNames(names: readonly string[], source: string): void {
  const problems = namingProblems(names);
  if (problems.length > 0) throw new OptionsError(`${source}: class names must be distinct and not empty: ${problems.join("; ")}`);
}

/** Whether `names` has no empty or repeated name (for zod refinements). */
export function validClassNames(names: readonly string[]): boolean {
  return namingProblems(names).length === 0;
}

/** The first names of `names` for messages: `cat, dog, bird` or `cat, dog, ... (40 classes)`. */
export function shownClassNames(names: readonly string[]): string {
  const quoted = names.map((name) => JSON.stringify(name));
  return quoted.length > 8 ? `${quoted.slice(0, 8).join(", ")}, ... (${quoted.length} classes)` : quoted.join(", ");
}

/**
 * The class names that apply when a state stores `stored` and a config or caller gives `given`: the
 * longer of the two when one starts with the other (a config listing the first names, or more names
 * than the state has yet), undefined when neither has any. Two lists that name an index differently
 * are an OptionsError: a class index cannot change meaning once a model trained on it.
 */
export function mergeClassNames(
  stored: readonly string[] | undefined,
  given: readonly string[] | undefined,
  where: { stored: string; given: string },
): string[] | undefined {
  if (stored === undefined || given === undefined) return stored === undefined ? (given === undefined ? undefined : [...given]) : [...stored];
  const common = Math.min(stored.length, given.length);
  for (let i = 0; i < common; i++) {
    if (stored[i] !== given[i]) {
      throw new OptionsError(
        `${where.given} names class ${i} ${JSON.stringify(given[i])}, but ${where.stored} has ${JSON.stringify(stored[i])} as class ${i}: ` +
          `a class index keeps its name once a model trained on it; list the classes in the state's order (${shownClassNames(stored)}), new names after them`,
      );
    }
  }
  return [...(given.length > stored.length ? given : stored)];
}

/** Throws a DataError when `names` has more classes than a model of `numClasses` outputs can predict. */
export function checkClassNamesFit(names: readonly string[], numClasses: number, source: string): void {
  if (names.length <= numClasses) return;
  throw new DataError(
    `${source}: ${names.length} classes (${shownClassNames(names)}) but the model has ${numClasses} outputs: ` +
      `set "model.classes" in the config to ${names.length} or more before the first update`,
  );
}
