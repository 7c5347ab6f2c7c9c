/**
 * The model of a state folder, for evaluate and predict: the folder is checked
 * whole (manifest, checksums, the updater's schema) before its model is loaded.
 */
import { join } from "node:path";
import { initBackend, type BackendName } from "../backend/backend.js";
import type { ContinualModel } from "../model/continual_model.js";
import { loadModel } from "../model/io.js";
import type { Logger } from "../logger.js";
import { MANIFEST_FILE } from "../state/format.js";
import { readUpdaterState } from "../updaters/state_kinds.js";
import { readStateDataSettings, stateDataSettingsSchema, type StateDataSettings } from "./state_data.js";

export interface StateModel {
  model: ContinualModel;
  /** How the state's training data was read (undefined for states written without it). */
  dataFormat: StateDataSettings | undefined;
}

export async function loadStateModel(dir: string, backend: BackendName = "auto", logger?: Logger): Promise<StateModel> {
  const state = await readUpdaterState(dir, { dataSettingsSchema: stateDataSettingsSchema, logger });
  const dataFormat = readStateDataSettings(state.data, join(state.dir, MANIFEST_FILE));
  await initBackend(backend);
  return { model: await loadModel(join(state.dir, "model")), dataFormat };
}
