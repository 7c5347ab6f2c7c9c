/**
 * A config's search space, resolved and checked against what the updater accepts, before any trial trains:
 * every key must be an option of the config's `options` section (configUpdaterOptionsSchema) or a field of its
 * optimizer, and every extreme value of every entry (each choice, each bound) must pass both the config schema and
 * the named updater's own options schema (so "alpha" is refused for fine-tuning, a momentum of 1.5 for SGD).
 */
import { OptionsError } from "../errors.js";
import { createUpdater } from "../updaters/registry.js";
import { configUpdaterOptionsSchema, parseConfig, type RelearnConfig } from "../workflow/config.js";
import { applyParams, gridValues, SEARCH_SPACE_PRESETS, toSearchSpace, type Domain, type ParamValue, type Params, type SearchSpace, type SearchSpacePreset } from "./search_space.js";
import type { TuningSettings } from "./settings.js";

/** The space a search runs: the preset's entries, then the space's own (which win). Without either, a default by optimizer. */
export function resolveSpace(config: RelearnConfig, settings: TuningSettings): { space: SearchSpace; source: string } {
  let preset = settings.preset as SearchSpacePreset | undefined;
  let source = [preset === undefined ? undefined : `preset "${preset}"`, settings.space === undefined ? undefined : "the config's tuning.space"].filter((s) => s !== undefined).join(" + ");
  if (preset === undefined && settings.space === undefined) {
    // Sensible default: Renate's SGD space for an SGD config, the Adam learning rate otherwise.
    preset = config.options.optimizer?.name === "sgd" ? "renate-sgd" : "adam";
    source = `preset "${preset}" (the default for a config with ${config.options.optimizer?.name ?? "the default adam"} optimizer)`;
  }
  const merged = { ...(preset === undefined ? {} : SEARCH_SPACE_PRESETS[preset]), ...(settings.space ?? {}) };
  const space = toSearchSpace(merged);
  checkSpace(config, space, settings);
  return { space, source };
}

const CONFIG_OPTIONS = Object.keys(configUpdaterOptionsSchema.shape);

function extremes(domain: Domain): ParamValue[] {
  switch (domain.kind) {
    case "constant":
      return [domain.value];
    case "choice":
      return domain.values;
    default:
      return [domain.low, domain.high];
  }
}

/** Throws an OptionsError naming the entry and the value a trial could not run with. */
export function checkSpace(config: RelearnConfig, space: SearchSpace, settings: Pick<TuningSettings, "scheduler">): void {
  if (space.length === 0) throw new OptionsError("the search space is empty: set tuning.preset or tuning.space in the config");
  for (const [key] of space) {
    const option = key.split(".")[0]!;
    if (!CONFIG_OPTIONS.includes(option)) {
      throw new OptionsError(`search space entry "${key}": "${option}" is not an updater option a config can set; known: ${CONFIG_OPTIONS.join(", ")}`);
    }
    if (key === "optimizer") throw new OptionsError(`search space entry "optimizer": name one of its fields instead, e.g. "optimizer.learningRate" or "optimizer.name"`);
    if (key === "maxEpochs" && settings.scheduler === "asha") {
      throw new OptionsError(`search space entry "maxEpochs": ASHA sets the epochs of each trial itself (tuning.asha.minEpochs/maxEpochs); drop the entry`);
    }
  }
  // Every extreme value of every entry, the others at their first grid value: what a trial can meet.
  const base: Params = Object.fromEntries(space.map(([key, domain]) => [key, gridValues(domain, 1)[0]!]));
  for (const [key, domain] of space) {
    for (const value of extremes(domain)) {
      const params = { ...base, [key]: value };
      const options = applyParams(config.options, params);
      const where = `search space entry "${key}" = ${JSON.stringify(value)}`;
      let checked: RelearnConfig;
      try {
        checked = parseConfig({ ...config, options }, where);
      } catch (error) {
        throw new OptionsError(`${(error as Error).message}\n(updater "${config.updater}"; the space may name the options of the config's "options" section and the fields of its optimizer)`);
      }
      try {
        createUpdater(checked.updater, { ...checked.options, model: checked.model }).dispose();
      } catch (error) {
        if (!(error instanceof OptionsError)) throw error;
        throw new OptionsError(`${where}: updater "${config.updater}" refuses it: ${error.message}`);
      }
    }
  }
}
