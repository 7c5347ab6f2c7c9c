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
