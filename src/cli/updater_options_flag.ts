/**
 * `--updater-options`: per-updater hyper-parameters for `relearn benchmark`, as JSON keyed by updater (or variant)
 * name, e.g. '{"cls-er": {"newDataLoss": "asymmetric"}, "er@lr-high": {"optimizer": {"name": "adam", "learningRate": 0.01}}}'. Only the shape is checked here; each
 * updater's own options schema validates the values (unknown option names included) when the run creates it.
 */
import { InvalidArgumentError } from "commander";
import * as z from "zod";
import { OptionsError } from "../errors.js";
import { variantBase } from "../benchmark/updater_variant.js";

const updaterOptionsFlagSchema = z.record(z.string(), z.record(z.string(), z.unknown()));

export type UpdaterOptionsFlag = z.output<typeof updaterOptionsFlagSchema>;

/** commander argParser: the JSON text parsed into { updater: { option: value } }, or an InvalidArgumentError. */
export function updaterOptionsFlag(value: string): UpdaterOptionsFlag {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (e) {
    throw new InvalidArgumentError(`not JSON (${(e as Error).message}); expected e.g. '{"cls-er": {"newDataLoss": "asymmetric"}}'`);
  }
  const parsed = updaterOptionsFlagSchema.safeParse(json);
  if (!parsed.success) throw new InvalidArgumentError(`expected an object of objects, { "<updater>": { "<option>": value } }: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * Options the grid sets for each cell, refused in `--updater-options`: the axes name each row by their value (one set
 * here would run another value under that name, tester G's F10 and tester H's H14), and a benchmark keeps no state.
 */
const GRID_OWNED_OPTIONS: Readonly<Record<string, string>> = {
  memorySize: "--memory-sizes sets (each size its own rows, named by it): give it there",
  seed: "--seeds sets (each seed its own run, named by it): give it there",
  inputStateFolder: "a benchmark does not take: each run starts from a fresh model and keeps no state",
  outputStateFolder: "a benchmark does not take: each run starts from a fresh model and keeps no state",
  overwriteOutputState: "a benchmark does not take: each run starts from a fresh model and keeps no state",
};

/**
 * `fromFlags` (options other flags set, per updater) with `given` merged over them, option by option; a variant
 * (`er@lr-high`, see benchmark/updater_variant.ts) starts from its base updater's merged options. Every updater
 * named in `given` must be one of `updaters` (a typo would otherwise be ignored silently): else an OptionsError.
 */
export function mergeUpdaterOptions(
  updaters: readonly string[],
  fromFlags: Readonly<Record<string, Record<string, unknown>>>,
  given: UpdaterOptionsFlag | undefined,
): Record<string, Record<string, unknown>> {
  const merged: Record<string, Record<string, unknown>> = { ...fromFlags };
  for (const [name, options] of Object.entries(given ?? {})) {
    if (!updaters.includes(name)) throw new OptionsError(`--updater-options names "${name}", which is not in --updaters (${updaters.join(", ")})`);
    for (const [option, why] of Object.entries(GRID_OWNED_OPTIONS)) {
      if (option in options) throw new OptionsError(`--updater-options: "${name}" sets ${option}, which ${why}`);
    }
    merged[name] = { ...merged[name], ...options };
  }
  // A variant is its base with its own options over the base's (flags' and --updater-options'), so it differs from
  // the base's rows in the settings it names only (tester G, F21).
  for (const name of updaters) {
    const base = variantBase(name);
    if (name !== base && merged[base] !== undefined) merged[name] = { ...merged[base], ...given?.[name] };
  }
  return merged;
}
