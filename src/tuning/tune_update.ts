/**
 * `relearn update --tune N`: tuning inside the production loop, as Renate does. The update is run N times (one
 * trial per setting of the config's search space, each into its own folder beside the output state), judged on the
 * validation sets, and the best trial's state becomes the output state: copied file by file through the state
 * store's atomic write, under the output's lock, with the tuning history (tuning/history.csv, trials_table.ts)
 * appended. The trial folders are removed afterwards, whatever happened.
 *
 * Starting from the history: when the input state has a history, the chosen setting of its most recent tuned
 * update (if it fits this search space) is tried first, as trial 0, by random search and ASHA (like Syne Tune's
 * points_to_evaluate); the other trials are drawn as usual. Grid search runs its grid and ignores it.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { OptionsError, StateError } from "../errors.js";
import { fileSystemStore } from "../state/fs_store.js";
import type { StateStore } from "../state/store.js";
import type { RelearnConfig } from "../workflow/config.js";
import { recordableConfig, resolveUpdateConfig, type ConfigOverrides } from "../workflow/state_config.js";
import type { DataFile } from "../workflow/data_files.js";
import type { UpdateSummary } from "../workflow/update.js";
import { resolveSpace } from "./check_space.js";
import type { TrialExecutor } from "./executor.js";
import type { Params } from "./search_space.js";
import type { TrialOutcome } from "./trial.js";
import { formatTrialsCsv, parseTrialsCsv, previousBest, trialRows, TUNING_HISTORY_FILE, type TrialRow } from "./trials_table.js";
import { withWorkDir } from "./work_dir.js";
import { runTuning, tuningSettingsOf, type TuneProgress, type TuneResult } from "./tune.js";

export interface TunedUpdateRequest {
  /** The config (its tuning section sets the search); leave it out for the one the input state records (state_config.ts). */
  config?: RelearnConfig | undefined;
  /** Settings for this update (every trial) only, over the config; not recorded in the output state. */
  overrides?: ConfigOverrides | undefined;
  /** Settings to try; default the config's tuning.trials, else 8 (grid: its whole grid). */
  trials?: number | undefined;
  data: DataFile;
  /** Required: trials are judged on the validation sets. */
  val: DataFile | undefined;
  inputState?: string | undefined;
  outputState: string;
  overwriteOutputState?: boolean | undefined;
  taskId?: string | undefined;
  executor?: TrialExecutor | undefined;
  onTrial?: ((progress: TuneProgress) => void) | undefined;
  /** Default: the file system. */
  stateStore?: StateStore | undefined;
  /** Called once the output state was committed (before the trial folders are removed). */
  onOutputWritten?: (() => void) | undefined;
  /** Told each `<output>.tune-…` folder of trial states left by a run that was killed (its process gone), once removed. */
  onLeftoverRemoved?: ((path: string) => void) | undefined;
}

export interface TunedUpdateSummary {
  /** The chosen trial's update, as the output state holds it. */
  update: UpdateSummary;
  tuning: TuneResult & {
    /** The setting tried first because the input state's history chose it, or why none was. */
    startedFrom: { params: Params; update: number; value: number } | { reason: string };
    /** Rows in the output state's history (earlier updates' and this one's). */
    historyRows: number;
  };
}

export async function tunedUpdate(request: TunedUpdateRequest): Promise<TunedUpdateSummary> {
  const val = request.val;
  if (val === undefined) throw new OptionsError("update --tune judges each trial on validation data: give --val (the state keeps it for later updates too)");
  const store = request.stateStore ?? fileSystemStore();
  const output = await store.resolve(request.outputState);
  const input = request.inputState === undefined ? undefined : await store.resolve(request.inputState);
  await store.checkWritable(output, input);
  // What the output may replace, decided now (before an hour of trials) and enforced at commit (expectedPrevious).
  let expectedPrevious: string | null | undefined;
  let history: TrialRow[] = [];
  if (input !== undefined) {
    const state = await store.read(input);
    if (state === null) throw new StateError(`the input state folder ${request.inputState} does not exist; check the path, or leave out --input-state to start from a fresh model`);
    if (state.files.has(TUNING_HISTORY_FILE)) {
      history = parseTrialsCsv(new TextDecoder().decode(await state.files.readFile(TUNING_HISTORY_FILE)), `${input}/${TUNING_HISTORY_FILE}`);
    }
    if (input === output) expectedPrevious = state.manifest.manifestSha256;
  }
  if (input !== output && (await store.holdsState(output))) {
    if (request.overwriteOutputState !== true) {
      throw new StateError(
        `the output state folder ${output} already holds a state, and this update would replace it; to continue it, give it as the ` +
          `input state too (--input-state ${request.outputState}); to replace it, pass --overwrite-output-state; or choose another output folder`,
      );
    }
  } else if (input !== output) expectedPrevious = null;

  // The trials run with the overrides applied; the kept state records the config as given, tuning section included,
  // so a later `update --tune` without --config searches the same space (starting from this update's choice).
  const { run, recorded } = await resolveUpdateConfig(request);
  const settings = { ...tuningSettingsOf(run), ...(request.trials === undefined ? {} : { trials: request.trials }) };
  const config: RelearnConfig = { ...run, tuning: settings };
  const { space } = resolveSpace(config, settings, { resumed: input !== undefined });
  const startedFrom = history.length === 0 ? { reason: "the input state has no tuning history" } : previousBest(history, space, settings.metric);
  const initial = "params" in startedFrom && settings.scheduler !== "grid" ? [startedFrom.params] : [];

  await mkdir(dirname(output), { recursive: true });
  return withWorkDir(`${output}.tune-`, async (workDir) => {
    const result = await runTuning({
      config,
      data: request.data,
      val,
      inputState: request.inputState,
      taskId: request.taskId,
      workDir,
      executor: request.executor,
      initial,
      onTrial: request.onTrial,
    });
    const best = result.best;
    const summary = best.summary!;
    const rows = [...history, ...trialRows(result.outcomes, summary.updatesDone, best)];
    await keepTrialState(store, best, output, expectedPrevious, formatTrialsCsv(rows), recordableConfig(recorded));
    request.onOutputWritten?.();
    return {
      update: { ...summary, outputState: request.outputState },
      tuning: { ...result, startedFrom, historyRows: rows.length },
    };
  }, request.onLeftoverRemoved);
}

/**
 * Writes the trial's state as `output` (atomically, under its lock) with `historyCsv` as its tuning history and
 * `config` as its recorded config (the trial recorded its own: the setting applied, no tuning section).
 */
async function keepTrialState(
  store: StateStore,
  trial: TrialOutcome,
  output: string,
  expectedPrevious: string | null | undefined,
  historyCsv: string,
  config: Record<string, unknown>,
): Promise<void> {
  const state = await store.read(trial.outputState);
  if (state === null) throw new StateError(`trial ${trial.trialId}'s state ${trial.outputState} is missing`);
  const lock = await store.lock(output);
  try {
    await store.write(output, {
      kind: state.manifest.kind,
      beforeCommit: () => lock.verify(),
      ...(expectedPrevious === undefined ? {} : { expectedPrevious }),
      write: async (files) => {
        for (const path of Object.keys(state.manifest.files)) {
          if (path !== TUNING_HISTORY_FILE) await files.writeFile(path, await state.files.readFile(path));
        }
        await files.writeFile(TUNING_HISTORY_FILE, historyCsv);
        return { ...(state.manifest.data as Record<string, unknown>), config };
      },
    });
  } finally {
    await lock.release();
  }
}
