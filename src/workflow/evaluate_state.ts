/**
 * `relearn evaluate`: the state's model on a labelled data file: accuracy,
 * per-class accuracy and the confusion matrix.
 */
import type { BackendName } from "../backend/backend.js";
import { accuracy, confusionMatrix, perClassAccuracy } from "../metrics/accuracy.js";
import { predict } from "../training/predict.js";
import type { RelearnConfig } from "./config.js";
import { readDataFile, type DataFile } from "./data_files.js";
import { loadStateModel } from "./state_model.js";

export interface Evaluation {
  file: string;
  items: number;
  accuracy: number;
  /** NaN (null in JSON) for classes absent from the file. */
  perClassAccuracy: number[];
  /** confusionMatrix[label][prediction]. */
  confusionMatrix: number[][];
}

export async function evaluateState(request: {
  state: string;
  data: DataFile;
  format?: RelearnConfig["data"];
  taskId?: string;
  backend?: BackendName;
}): Promise<Evaluation> {
  const model = await loadStateModel(request.state, request.backend);
  try {
    const dataset = await readDataFile(request.data, request.format ?? { layout: model.inputShape.length > 1 ? "hwc" : "flat" }, {
      featureShape: model.inputShape,
      numClasses: model.numClasses,
    });
    const { classes } = await predict(model, dataset, { ...(request.taskId ? { taskId: request.taskId } : {}) });
    return {
      file: request.data.path,
      items: dataset.length,
      accuracy: accuracy(classes, dataset.labels),
      perClassAccuracy: perClassAccuracy(classes, dataset.labels, model.numClasses),
      confusionMatrix: confusionMatrix(classes, dataset.labels, model.numClasses),
    };
  } finally {
    model.dispose();
  }
}
