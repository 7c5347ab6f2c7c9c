/**
 * A config's search space, resolved and checked against what the updater accepts, before any trial trains:
 * every key must be an option of the config's `options` section (configUpdaterOptionsSchema) or a field of its
 * optimizer, and every extreme value of every entry (each choice, each bound) must pass both the config schema and
 * the named updater's own options schema (so "alpha" is refused for fine-tuning, a momentum of 1.5 for SGD).
 */
import { OptionsError } from "../errors.js";
import { createUpdater, UPDATER_NAMES, updaterEntry } from "../updaters/registry.js";
import { configUpdaterOptionsSchema, parseConfig, type RelearnConfig } from "../workflow/config.js";
import { applyParams, gridValues, SEARCH_SPACE_PRESETS, toSearchSpace, type Domain, type ParamValue, type Params, type SearchSpace, type SearchSpacePreset } from "./search_space.js";
import type { TuningSettings } from "./settings.js";

/** The space a search runs: the preset's entries, then the space's own (which win). Without either, a default by optimizer. */
export function resolveSpace(config: RelearnConfig, settings: TuningSettings, context: { resumed?: boolean } = {}): { space: SearchSpace; source: string } {
  let preset = settings.preset as SearchSpacePreset | undefined;
  let source = [preset === undefined ? undefined : `preset "${preset}"`, settings.space === undefined ? undefined : "the config's tuning.space"].filter((s) => s !== undefined).join(" + ");
  if (preset === undefined && settings.space === undefined) {
    // Sensible default: Renate's SGD space for an SGD config, the Adam learning rate otherwise.
    preset = config.options.optimizer?.name === "sgd" ? "renate-sgd" : "adam";
    source = `preset "${preset}" (the default for a config with ${config.options.optimizer?.name ?? "the default adam"} optimizer)`;
  }
  const fromPreset: Record<string, unknown> = preset === undefined ? {} : SEARCH_SPACE_PRESETS[preset];
  const merged = { ...fromPreset, ...(settings.space ?? {}) };
  const space = toSearchSpace(merged);
  // Where each entry came from, for the messages: the user's own entry wins over the preset's.
  const origins = Object.fromEntries(
    Object.keys(merged).map((key) => [key, settings.space !== undefined && key in settings.space ? `tuning.space.${key}` : `preset "${preset}" entry "${key}"`]),
  );
  checkSpace(config, space, settings, origins);
  if (context.resumed === true) refuseStateFixedOptions(Object.keys(merged), origins);
  return { space, source };
}

const CONFIG_OPTIONS = Object.keys(configUpdaterOptionsSchema.shape);

function extremes(domain: Domain): ParamValue[] {
  switch (domain.kind) {
    case "constant":
      return [domain.value];
    case "choice":
      return domain.values;
    case "int":
      return [domain.low, domain.high];
    default:
      // A real-valued draw can be what neither bound is: a fraction (1/pi of the way in).
      return [domain.low, domain.high, domain.low + (domain.high - domain.low) / Math.PI];
  }
}

/**
 * The config options the config's updater takes (its own options schema's keys), so a typo's message lists only
 * those, not the other updaters' (alpha for rd); undefined when the schema does not say.
 */
function optionsOf(config: RelearnConfig): string[] | undefined {
  try {
    const updater = createUpdater(config.updater, { ...config.options, model: config.model });
    updater.dispose();
    const shape = (updater.constructor as { optionsSchema?: { shape?: Record<string, unknown> } }).optionsSchema?.shape;
    return shape === undefined ? undefined : CONFIG_OPTIONS.filter((key) => key in shape);
  } catch (error) {
    if (error instanceof OptionsError) return undefined;
    throw error;
  }
}

/** Whether the config with `params` applied passes the config schema and the updater's own options schema. */
function accepts(config: RelearnConfig, params: Params): boolean {
  // A memory-free updater's registry entry drops memorySize (a benchmark grid gives every updater one): tuning it
  // would search a setting that changes nothing (tester H, H7).
  if ("memorySize" in params && !updaterEntry(config.updater).usesMemory) return false;
  try {
    const checked = parseConfig({ ...config, options: applyParams(config.options, params) }, "probe");
    createUpdater(checked.updater, { ...checked.options, model: checked.model }).dispose();
    return true;
  } catch (error) {
    if (error instanceof OptionsError) return false;
    throw error;
  }
}

/**
 * Throws an OptionsError naming the entry and the value a trial could not run with. `origins` names each entry for
 * the messages (`tuning.space.alpha`, `preset "renate-der" entry "alpha"`); default `tuning.space.<key>`.
 */
export function checkSpace(config: RelearnConfig, space: SearchSpace, settings: Pick<TuningSettings, "scheduler">, origins: Readonly<Record<string, string>> = {}): void {
  const origin = (key: string) => origins[key] ?? `tuning.space.${key}`;
  if (space.length === 0) throw new OptionsError("the search space is empty: set tuning.preset or tuning.space in the config");
  for (const [key] of space) {
    const option = key.split(".")[0]!;
    if (!CONFIG_OPTIONS.includes(option)) {
      const known = optionsOf(config);
      throw new OptionsError(
        `${origin(key)}: "${option}" is not an updater option a config can set; ` +
          (known === undefined ? `known: ${CONFIG_OPTIONS.join(", ")}` : `updater "${config.updater}" takes: ${known.join(", ")}`),
      );
    }
    if (key === "optimizer") throw new OptionsError(`${origin(key)}: name one of its fields instead, e.g. "optimizer.learningRate" or "optimizer.name"`);
    if (key === "maxEpochs" && settings.scheduler === "asha") {
      throw new OptionsError(`${origin(key)}: ASHA sets the epochs of each trial itself (tuning.asha.minEpochs/maxEpochs); drop the entry`);
    }
  }
  const base: Params = Object.fromEntries(space.map(([key, domain]) => [key, gridValues(domain, 1)[0]!]));
  checkUpdaterTakes(config, space, base, origin);
  // A real-valued domain on an integer option: its bounds (and midpoint) may be whole numbers, its draws are not.
  for (const [key, domain] of space) {
    if (domain.kind !== "uniform" && domain.kind !== "logUniform") continue;
    // A value strictly inside the range that is not a whole number (1/pi of the way: no common bound makes it one).
    const inside = domain.low + (domain.high - domain.low) / Math.PI;
    if (Number.isInteger(inside) || accepts(config, { ...base, [key]: inside })) continue;
    const rounded = Math.round(inside);
    // (Refused for another reason, the value is checked below with the bounds.)
    if (accepts(config, { ...base, [key]: rounded })) {
      const [low, high] = [Math.ceil(domain.low), Math.floor(domain.high)];
      throw new OptionsError(
        `${origin(key)}: {"${domain.kind}": [${domain.low}, ${domain.high}]} draws real numbers (e.g. ${Number(inside.toPrecision(4))}), but "${key}" takes whole numbers: ` +
          `use {"int": [${low}, ${high}]}`,
      );
    }
  }
  // Every extreme value of every entry, the others at their first grid value: what a trial can meet.
  for (const [key, domain] of space) {
    for (const value of extremes(domain)) {
      const params = { ...base, [key]: value };
      const options = applyParams(config.options, params);
      const where = `${origin(key)} = ${JSON.stringify(value)}`;
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

/**
 * The options the updater does not take at all (e.g. preset "renate-der"'s alpha and beta on an rd config), named
 * with the entries they come from and the updaters that do take them; checked one option at a time, so the blame
 * falls on the option refused, not on whichever entry a combined check happened to be at.
 */
function checkUpdaterTakes(config: RelearnConfig, space: SearchSpace, base: Params, origin: (key: string) => string): void {
  // The optimizer's fields go together (a momentum needs "optimizer.name": "sgd"): they stay in every probe.
  const optimizer: Params = Object.fromEntries(Object.entries(base).filter(([key]) => key.startsWith("optimizer.")));
  const refused = space.map(([key]) => key).filter((key) => !key.startsWith("optimizer.") && !accepts(config, { ...optimizer, [key]: base[key]! }));
  if (refused.length === 0) return;
  const takers = UPDATER_NAMES.filter((name) => accepts({ ...config, updater: name }, { ...optimizer, ...Object.fromEntries(refused.map((key) => [key, base[key]!])) }));
  const named = refused.map((key) => `${key} (${origin(key)})`).join(", ");
  const one = refused.length === 1;
  // What to do: a space entry can be dropped; a preset's cannot, so another preset is named (these two take only optimizer fields).
  const presets = [...new Set(refused.map((key) => /^preset "([^"]+)"/.exec(origin(key))?.[1]).filter((p) => p !== undefined))];
  const own = refused.filter((key) => !origin(key).startsWith("preset "));
  const fixes = [
    ...(own.length === 0 ? [] : [`drop ${own.join(", ")} from tuning.space`]),
    ...(presets.length === 0 ? [] : [`use a preset "${config.updater}" takes ("renate-sgd" or "adam") instead of ${presets.map((p) => `"${p}"`).join(", ")}`]),
  ];
  throw new OptionsError(
    `updater "${config.updater}" takes no ${named}: ` +
      (takers.length === 0 ? `no updater takes ${one ? "it" : "them all"}` : `${one ? "an option" : "options"} of ${takers.join(", ")}`) +
      `. To tune "${config.updater}": ${fixes.join("; ")}`,
  );
}

/**
 * Options a resumed state fixes: its memory keeps the size it was built with (resuming with another memorySize is
 * refused), so a trial drawing one would fail at once. Refused before any trial, naming the entry.
 */
const STATE_FIXED_OPTIONS: Readonly<Record<string, string>> = {
  memorySize: "a resumed state's memory keeps the size it was built with",
};

function refuseStateFixedOptions(keys: readonly string[], origins: Readonly<Record<string, string>>): void {
  const fixed = keys.filter((key) => key in STATE_FIXED_OPTIONS);
  if (fixed.length === 0) return;
  throw new OptionsError(
    fixed
      .map((key) => `${origins[key] ?? `tuning.space.${key}`}: ${STATE_FIXED_OPTIONS[key]}, so "${key}" can be tuned only on a first update (no --input-state); remove it from the space to tune this one`)
      .join("; "),
  );
}
