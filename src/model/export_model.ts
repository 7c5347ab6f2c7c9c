/**
 * A model exported for serving: a plain tfjs LayersModel (model.json +
 * weights.bin) whose outputs are the logits, as a state stores them, or
 * probabilities (a softmax layer after each head), for a browser or a server
 * that wants p(class | x) without knowing relearn. Host-neutral: where the
 * files go is the caller's (io.ts writes a folder in Node).
 *
 * The export carries no relearn metadata (`userDefinedMetadata.relearn`), so
 * `loadModel` cannot mistake it for a trainable model; it carries
 * `userDefinedMetadata.relearnExport` instead (EXPORT_METADATA_KEY), and
 * `loadModel` refuses an export of probabilities (training on them as
 * logits would be wrong).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { OptionsError } from "../errors.js";
import type { ContinualModel } from "./continual_model.js";
import { writeModelArtifacts, type WriteModelFile } from "./model_files.js";

/** Key of the export's description in model.json's userDefinedMetadata. */
export const EXPORT_METADATA_KEY = "relearnExport";

/** What an exported model.json says about its outputs (userDefinedMetadata.relearnExport). */
export interface ExportMetadata {
  /** "logits": unnormalised scores; "probabilities": softmax of the logits over the classes (each row sums to 1). */
  outputs: "logits" | "probabilities";
  /** The task id of each output, in output order (one output per head). */
  taskIds: string[];
  /** Class names in index order, when the state has them (output column i is class classNames[i]). */
  classNames?: string[];
}

/**
 * Why a state that predicts by nearest class mean (iCaRL) is not exported: the export's outputs would be the
 * logits of iCaRL's training classifier, which are not its predictions (docs/design.md, "iCaRL").
 */
export function nearestClassMeanExportRefusal(state: string): string {
  return (
    `${state} was written by iCaRL, which predicts by the nearest class mean of its features, not by its logits; ` +
    `a plain tfjs model cannot carry that step, and its logits would give other answers than \`relearn predict\`. ` +
    `Predict with \`relearn predict --state ${state}\` (or the library's predict with classMeans) instead`
  );
}

/** Options of {@link exportModel}. */
export interface ExportModelOptions {
  /** "logits" (default; what states store) or "probabilities" (a softmax after each output). */
  outputs?: "logits" | "probabilities";
  /** Class names to record in the export's metadata (index order). */
  classNames?: readonly string[] | undefined;
}

/**
 * Writes `model` as a plain tfjs LayersModel through `write` (model.json + weights.bin; `where` names the
 * destination in errors). Inputs: [N, ...model.inputShape] float32. Outputs: one [N, numClasses] tensor per
 * head (in taskIds() order): logits, or with `outputs: "probabilities"` their softmax (rows sum to 1).
 * Load it with `tf.loadLayersModel(".../model.json")`. The model is not changed (the export shares its weights).
 */
export async function exportModel(model: ContinualModel, write: WriteModelFile, where: string, options: ExportModelOptions = {}): Promise<ExportMetadata> {
  const outputs = options.outputs ?? "logits";
  if (outputs !== "logits" && outputs !== "probabilities") {
    throw new OptionsError(`outputs must be "logits" or "probabilities", got ${JSON.stringify(outputs)}`);
  }
  const { model: layersModel, metadata } = model.toLayersModel();
  const exported =
    outputs === "logits"
      ? layersModel
      : tfl.model({
          inputs: layersModel.inputs,
          // Softmax over the class axis of each head's logits; the layer has no weights.
          outputs: layersModel.outputs.map((logits, i) => tfl.layers.softmax({ axis: -1, name: `probabilities_${i}` }).apply(logits) as tfl.SymbolicTensor),
          name: "relearn_probabilities",
        });
  const description: ExportMetadata = {
    outputs,
    taskIds: metadata.taskIds,
    ...(options.classNames === undefined ? {} : { classNames: [...options.classNames] }),
  };
  // Only the export's description, not relearn's own metadata: with that, loadModel would rebuild it as a trainable model.
  const handler = tf.io.withSaveHandler((artifacts) =>
    writeModelArtifacts({ ...artifacts, userDefinedMetadata: { [EXPORT_METADATA_KEY]: description } as unknown as Record<string, object> }, write, where),
  );
  await model.withBuiltDropoutSeeds(() => exported.save(handler));
  return description;
}
