/**
 * `relearn evaluate`: the state's model on a labelled data file: accuracy,
 * per-class accuracy and the confusion matrix, with the state's class names
 * when it has them (the file's labels are then those names).
 */
import type { BackendName } from "../backend/backend.js";
import type { Logger } from "../logger.js";
import { accuracy, confusionMatrix, perClassAccuracy } from "../metrics/accuracy.js";
import { predict } from "../training/predict.js";
import type { DataFormat } from "./config.js";
import { readDataFileWithInfo, type DataFile, type DataReading } from "./data_files.js";
import { dataFormatFor } from "./state_data.js";
import { loadStateModel, stateTaskId } from "./state_model.js";

export interface Evaluation {
  file: string;
  items: number;
  /** How the file was read (CSV header row or not, label column). */
  read: DataReading;
  accuracy: number;
  /** NaN (null in JSON) for classes absent from the file. */
  perClassAccuracy: number[];
  /** confusionMatrix[label][prediction]. */
  confusionMatrix: number[][];
  /** The state's class names in index order (perClassAccuracy[i] and row/column i of the matrix are classNames[i]); absent when it has none. */
  classNames?: string[];
}

export async function evaluateState(request: {
  state: string;
  data: DataFile;
  /** Settings that override those the state remembers from its training data (header, labelColumn, scale, layout). */
  format?: Partial<DataFormat>;
  taskId?: string;
  backend?: BackendName;
  /** Warnings about the state (e.g. format 1: no manifest checksum). */
  logger?: Logger;
}): Promise<Evaluation> {
  const { model, dataFormat, classMeans } = await loadStateModel(request.state, request.backend, request.logger);
  try {
    const taskId = stateTaskId(model, request.state, request.taskId, request.logger);
    const { samples: dataset, reading } = await readDataFileWithInfo(request.data, dataFormatFor(model.inputShape, dataFormat, request.format), {
      featureShape: model.inputShape,
      numClasses: model.numClasses,
    });
    const { classes } = await predict(model, dataset, { classMeans, ...(taskId === undefined ? {} : { taskId }) });
    return {
      file: request.data.path,
      items: dataset.length,
      read: reading,
      accuracy: accuracy(classes, dataset.labels),
      perClassAccuracy: perClassAccuracy(classes, dataset.labels, model.numClasses),
      confusionMatrix: confusionMatrix(classes, dataset.labels, model.numClasses),
      ...(reading.classNames === undefined ? {} : { classNames: reading.classNames }),
    };
  } finally {
    model.dispose();
  }
}
