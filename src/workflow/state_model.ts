/**
 * The model of a state folder, for evaluate and predict: the folder is checked
 * whole (manifest, checksums) before its model is loaded.
 */
import { join } from "node:path";
import { StateError } from "../errors.js";
import { initBackend, type BackendName } from "../backend/backend.js";
import type { ContinualModel } from "../model/continual_model.js";
import { loadModel } from "../model/io.js";
import { readStateFolder } from "../state/read_state.js";

export async function loadStateModel(dir: string, backend: BackendName = "auto"): Promise<ContinualModel> {
  const state = await readStateFolder(dir);
  if (!state) throw new StateError(`${dir}: no state folder there`);
  await initBackend(backend);
  return loadModel(join(state.dir, "model"));
}
