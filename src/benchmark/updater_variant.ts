/**
 * Updater variants in a benchmark grid: `er@lr-high` is the updater `er` run with the options `--updater-options`
 * gives under that name, and reported as its own rows. One grid then compares settings of one updater (a learning
 * rate, a loss weight) side by side, each cell cached and queued like any other. Only `relearn benchmark` knows
 * variants: a config's `updater` and the library's `createUpdater` take registry names.
 */
import { OptionsError } from "../errors.js";
import { updaterEntry, type UpdaterEntry } from "../updaters/registry.js";

/** What may follow the "@": letters, digits and . _ = + -, so a variant name is safe in file names and job ids. */
const VARIANT_LABEL = /^[A-Za-z0-9._=+-]+$/;

/** The registry name of `name`: the part before "@" (the whole name when it has none). */
export function variantBase(name: string): string {
  const at = name.indexOf("@");
  return at < 0 ? name : name.slice(0, at);
}

/** The registry entry of an updater or variant name; an unknown base name is the registry's OptionsError. */
export function variantEntry(name: string): UpdaterEntry {
  return updaterEntry(variantBase(name));
}

/**
 * Checks the `--updaters` list: each name an updater or a variant `<updater>@<label>` whose options are given
 * (`hasOptions`: a variant without any, or with `{}`, would be its base updater again, most likely a typo), no name
 * twice.
 * Throws an OptionsError naming the first problem.
 */
export function checkUpdaterNames(names: readonly string[], hasOptions: (name: string) => boolean): void {
  for (const [i, name] of names.entries()) {
    variantEntry(name);
    if (names.indexOf(name) !== i) throw new OptionsError(`--updaters lists "${name}" twice`);
    const base = variantBase(name);
    if (base === name) continue;
    const label = name.slice(base.length + 1);
    if (!VARIANT_LABEL.test(label)) {
      throw new OptionsError(`--updaters: the variant "${name}" needs a label of letters, digits and . _ = + - after the "@" (e.g. ${base}@lr-high)`);
    }
    if (!hasOptions(name)) {
      throw new OptionsError(
        `--updaters: the variant "${name}" has no options: give them with --updater-options '{"${name}": {...}}' (without any it would run ${base} again)`,
      );
    }
  }
}
