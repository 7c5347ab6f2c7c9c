/**
 * Saving and loading models as a folder in Node: model.json + weights.bin
 * (the format is model_files.ts's, shared with every host). Without
 * tfjs-node there is no file:// handler, so `fileSystemIO` is ours; the same
 * folder, served over HTTP, is what `tf.loadLayersModel(".../model.json")`
 * loads in a browser.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "../errors.js";
import type { ContinualModel } from "./continual_model.js";
import { readModel, readModelArtifacts, writeModel, writeModelArtifacts, type ReadModelFile, type WriteModelFile } from "./model_files.js";
import { exportModel, type ExportMetadata, type ExportModelOptions } from "./export_model.js";

export { MODEL_JSON, WEIGHTS_BIN, METADATA_KEY } from "./model_files.js";

/** A tf.io.IOHandler whose save and load are both present. */
export type FileSystemIOHandler = Required<Pick<tf.io.IOHandler, "save" | "load">>;

/**
 * A tf.io.IOHandler reading and writing `dir/model.json` + `dir/weights.bin`.
 * `tfl.loadLayersModel(fileSystemIO(dir))` and `model.save(fileSystemIO(dir))`
 * work in Node with it. Load errors are ModelErrors naming the file; a NaN
 * or infinite weight is refused both ways (saving it, or loading it as corrupt).
 */
export function fileSystemIO(dir: string): FileSystemIOHandler {
  return {
    save: (artifacts) => writeModelArtifacts(artifacts, folderWrite(dir), dir),
    load: () => readModelArtifacts(folderRead(dir), dir),
  };
}

/** Saves `model` into the folder `dir` (model_files.ts's writeModel). */
export function saveModel(model: ContinualModel, dir: string): Promise<void> {
  return writeModel(model, folderWrite(dir), dir);
}

/**
 * Exports `model` for serving into the folder `dir` (export_model.ts's exportModel): a plain tfjs model whose
 * outputs are logits, or with `{ outputs: "probabilities" }` softmax probabilities.
 */
export function exportModelToFolder(model: ContinualModel, dir: string, options: ExportModelOptions = {}): Promise<ExportMetadata> {
  return exportModel(model, folderWrite(dir), dir, options);
}

/** Loads the model saved in the folder `dir` (model_files.ts's readModel). */
export function loadModel(dir: string): Promise<ContinualModel> {
  return readModel(folderRead(dir), dir);
}

function folderWrite(dir: string): WriteModelFile {
  return async (path, content) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, path), content);
  };
}

function folderRead(dir: string): ReadModelFile {
  return async (path) => {
    const full = join(dir, path);
    const what = path.endsWith(".json") ? "model file" : "weights file";
    try {
      return await readFile(full);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (error as Error).message;
      throw new ModelError(`cannot read the ${what} ${full}: ${reason}`, { cause: error });
    }
  };
}
