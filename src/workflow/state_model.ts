/**
 * The model of a state folder, for evaluate and predict: the folder is checked
 * whole (manifest, checksums, the updater's schema) before its model is loaded.
 * An iCaRL state also gives its class means: its model predicts through them.
 */
import { initBackend, type BackendName } from "../backend/backend.js";
import type { ContinualModel } from "../model/continual_model.js";
import type { ClassMeans } from "../model/nearest_class_mean.js";
import { loadModelFiles } from "../model/model_files.js";
import type { StateStore } from "../state/store.js";
import type { Logger } from "../logger.js";
import { OptionsError } from "../errors.js";
import { MANIFEST_FILE } from "../state/format.js";
import { ICARL_KIND, readClassMeans } from "../updaters/icarl_state.js";
import { readUpdaterState } from "../updaters/state_kinds.js";
import { readStateDataSettings, stateDataSettingsSchema, type StateDataSettings } from "./state_data.js";

export interface StateModel {
  model: ContinualModel;
  /** How the state's training data was read (undefined for states written without it). */
  dataFormat: StateDataSettings | undefined;
  /**
   * Set for a state whose updater predicts by nearest class mean (iCaRL, once it has updated): pass it to
   * predict (`classMeans`); the model's logits are then NOT its predictions.
   */
  classMeans?: ClassMeans | undefined;
}

/** The model of the state `dir` of `store` (default: the host's, folders in Node), on `backend`. */
export async function loadStateModel(dir: string, backend: BackendName = "auto", logger?: Logger, store?: StateStore): Promise<StateModel> {
  const state = await readUpdaterState(dir, { dataSettingsSchema: stateDataSettingsSchema, logger, store });
  const dataFormat = readStateDataSettings(state.data, `${state.dir}/${MANIFEST_FILE}`);
  const classMeans = state.manifest.kind === ICARL_KIND ? await readClassMeans(state.files, state.data.algorithm) : undefined;
  await initBackend(backend);
  return { model: await loadModelFiles(state.files, "model"), dataFormat, ...(classMeans === undefined ? {} : { classMeans }) };
}

/**
 * The task id a state's model answers with, checked before any data is read (tester H, H9): a model with a head per
 * task needs one of its tasks (the library's "no head" error would tell a CLI user to call ensureHead, which would
 * add an untrained head); a single-head model answers every task alike, so a task id given there is ignored with a
 * warning. Returns the task id to pass to predict (undefined: the model's own). Throws an OptionsError.
 */
export function stateTaskId(model: ContinualModel, state: string, taskId: string | undefined, logger?: Logger): string | undefined {
  if (!model.multiHead) {
    if (taskId !== undefined) logger?.warn(`${state}: the model has one head for every task, so --task-id ${JSON.stringify(taskId)} is not needed and is ignored`);
    return undefined;
  }
  const known = model.taskIds();
  if (taskId !== undefined && known.includes(taskId)) return taskId;
  const list = known.map((id) => JSON.stringify(id)).join(", ");
  const which = taskId === undefined ? "no --task-id was given" : `it has no head for task ${JSON.stringify(taskId)}`;
  throw new OptionsError(`${state}: the model has a head per task (${list}) and ${which}: pass --task-id with one of them (library: taskId)`);
}
