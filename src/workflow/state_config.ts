/**
 * The config a state records, and the config an update runs with.
 *
 * Every update the workflow runs (`relearn update`, `update --tune`, `update --queue`'s worker, the tuning trials)
 * records its config in the state it writes (`config` in the manifest's data): the updater's registry name ("rd"
 * and "rd-budget" write the same state kind, so the kind alone cannot tell them apart), the model, the options, the
 * data and tuning settings. The next update may then leave the config out and continue with the state's own.
 *
 * The rules (README, "Continuing a state without --config"):
 * - No config given: the input state's recorded config. A fresh start (no input state) needs a config, and so does a
 *   state that records none (written by the library directly, or by a relearn before it recorded one).
 * - A config given: it is used, and recorded in the new state. Its updater must be the one the input state
 *   records: `rd` continues as `rd`. Switching updaters mid-lineage is refused, not guessed at (even between
 *   presets of one kind, whose states could technically be read): start a new state with the other updater.
 * - Command-line overrides (--epochs, --seed, --header...) apply to this update only, over whichever config it
 *   uses, as they do over a config file: the state records the config without them, so an update continuing it
 *   without --config runs as one with the same --config would. The options the update actually ran with are in the
 *   state's `options`, as always.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as z from "zod";
import { OptionsError, StateError } from "../errors.js";
import { MANIFEST_FILE, parseManifest } from "../state/format.js";
import { findLeftoverSiblings } from "../state/atomic_folder.js";
import { realStatePath } from "../state/real_path.js";
import { readWhileCommitting } from "../state/read_retry.js";
import { configUpdaterOptionsSchema, dataFormatSchema, parseConfig, type RelearnConfig } from "./config.js";

/** Settings given for one update on top of its config (command-line flags); the state does not record them. */
export const configOverridesSchema = z.strictObject({
  options: configUpdaterOptionsSchema.optional(),
  data: dataFormatSchema.pick({ format: true, delimiter: true, header: true, labelColumn: true }).optional(),
});

export type ConfigOverrides = z.output<typeof configOverridesSchema>;

/** What a state records of `config`: the config as JSON, without `$schema` (a path next to the config file, not the state). */
export function recordableConfig(config: RelearnConfig): Record<string, unknown> {
  const json = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  delete json["$schema"];
  return json;
}

/**
 * The config recorded in the state `dir` (only its manifest is read and checked here; the updater verifies the
 * whole state when it resumes it): `null` when there is no state there, `undefined` in `config` when the state
 * records none. A recorded config that is not a valid one is a StateError naming the manifest.
 */
export async function readRecordedConfig(dir: string): Promise<{ config: RelearnConfig | undefined } | null> {
  // Another process may commit a new state there meanwhile: read again rather than fail (read_retry.ts).
  return readWhileCommitting(resolve(dir), async (attempt) => {
    // Only read here: a state whose last write stopped between its two renames is read from its `.old-` leftover,
    // and put back by the update that resumes it, which says so (it used to be put back here, silently).
    const target = await realStatePath(dir);
    let folder = target;
    if (!existsSync(join(target, MANIFEST_FILE))) {
      const previous = (await findLeftoverSiblings(target)).find((leftover) => leftover.type === "old" && existsSync(join(leftover.path, MANIFEST_FILE)));
      if (previous === undefined) return null;
      folder = previous.path;
    }
    const path = join(folder, MANIFEST_FILE);
    let text: string;
    try {
      text = await readFile(path, "utf8");
      attempt.manifestText = text;
    } catch (error) {
      throw new StateError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
    const manifest = await parseManifest(text, path);
    const recorded = (manifest.data as { config?: unknown } | null)?.config;
    if (recorded === undefined) return { config: undefined };
    try {
      return { config: parseConfig(recorded, `the config recorded in ${path} ("data.config")`) };
    } catch (error) {
      throw new StateError((error as Error).message, { cause: error });
    }
  });
}

export interface ConfigChoice {
  /** The config given (a config file), or undefined to continue with the input state's. */
  config?: RelearnConfig | undefined;
  /** For this update only, over the config. */
  overrides?: ConfigOverrides | undefined;
  /** The state the update resumes from, if any. */
  inputState?: string | undefined;
}

/**
 * The config an update runs with (`run`: overrides applied) and the one its new state records (`recorded`), by the
 * rules above. An OptionsError says what to pass when there is no config to use, or that a config's updater is
 * not the state's.
 */
export async function resolveUpdateConfig(choice: ConfigChoice): Promise<{ run: RelearnConfig; recorded: RelearnConfig }> {
  const found = choice.inputState === undefined ? null : await readRecordedConfig(choice.inputState);
  const stateConfig = found?.config;
  let recorded: RelearnConfig;
  if (choice.config !== undefined) {
    if (stateConfig !== undefined && stateConfig.updater !== choice.config.updater) {
      throw new OptionsError(
        `the config names updater "${choice.config.updater}", but the input state ${choice.inputState} was made by "${stateConfig.updater}": ` +
          `a state continues with its own updater. Leave out --config to continue with the state's recorded config, set ` +
          `"updater": "${stateConfig.updater}" in the config, or start a new state (no --input-state) to use "${choice.config.updater}"`,
      );
    }
    recorded = choice.config;
  } else if (choice.inputState === undefined) {
    throw new OptionsError("no config: a fresh start (no input state) needs --config (relearn init writes one) to know the model and the updater");
  } else if (found === null) {
    throw new StateError(
      `the input state folder ${choice.inputState} does not exist, so there is no recorded config to continue with; check the path, ` +
        `or give --config and leave out --input-state to start from a fresh model`,
    );
  } else if (stateConfig === undefined) {
    throw new OptionsError(
      `the input state ${choice.inputState} records no config (written by the library directly, or by a relearn from before states ` +
        `recorded the config that made them): pass --config with the config it was made with; the state written records it, so later updates may leave it out`,
    );
  } else {
    recorded = stateConfig;
  }
  return { run: applyOverrides(recorded, choice.overrides), recorded };
}

/** `config` with `overrides` set over its options and data settings, validated again. */
export function applyOverrides(config: RelearnConfig, overrides: ConfigOverrides | undefined): RelearnConfig {
  if (overrides === undefined) return config;
  return parseConfig(
    { ...config, options: { ...config.options, ...overrides.options }, data: { ...config.data, ...overrides.data } },
    "the config with command-line overrides",
  );
}
