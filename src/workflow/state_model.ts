/**
 * The model of a state folder, for evaluate and predict: the folder is checked
 * whole (manifest, checksums, the updater's schema) before its model is loaded.
 */
import { join } from "node:path";
import { initBackend, type BackendName } from "../backend/backend.js";
import type { ContinualModel } from "../model/continual_model.js";
import { loadModel } from "../model/io.js";
import { readUpdaterState } from "../updaters/state_kinds.js";

export async function loadStateModel(dir: string, backend: BackendName = "auto"): Promise<ContinualModel> {
  const state = await readUpdaterState(dir);
  await initBackend(backend);
  return loadModel(join(state.dir, "model"));
}
