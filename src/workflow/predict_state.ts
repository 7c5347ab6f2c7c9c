/**
 * `relearn predict`: the state's model's predicted class and class
 * probabilities for every row of a data file. The file needs no labels; if
 * it has them they are ignored. The file is read with the data settings the
 * state remembers (CSV header, label column), unless `format` overrides them.
 */
import type { BackendName } from "../backend/backend.js";
import type { Logger } from "../logger.js";
import { predict, type Predictions } from "../training/predict.js";
import type { DataFormat } from "./config.js";
import { readPredictionFileWithInfo, type DataFile, type DataReading } from "./data_files.js";
import { dataFormatFor } from "./state_data.js";
import { loadStateModel } from "./state_model.js";

export async function predictState(request: {
  state: string;
  data: DataFile;
  /** Settings that override those the state remembers from its training data (header, labelColumn, scale, layout). */
  format?: Partial<DataFormat>;
  taskId?: string;
  backend?: BackendName;
  /** Warnings about the state (e.g. format 1: no manifest checksum). */
  logger?: Logger;
}): Promise<Predictions & { read: DataReading }> {
  const { model, dataFormat } = await loadStateModel(request.state, request.backend, request.logger);
  try {
    const { samples, reading } = await readPredictionFileWithInfo(request.data, dataFormatFor(model.inputShape, dataFormat, request.format), {
      featureShape: model.inputShape,
      numClasses: model.numClasses,
    });
    const predictions = await predict(model, samples, { probabilities: true, ...(request.taskId ? { taskId: request.taskId } : {}) });
    return { ...predictions, read: reading };
  } finally {
    model.dispose();
  }
}

/** Predictions as CSV: index,prediction,p_0..p_{C-1}. */
export function predictionsToCsv(predictions: Predictions): string {
  const c = predictions.numClasses;
  const header = ["index", "prediction", ...Array.from({ length: c }, (_, k) => `p_${k}`)].join(",");
  const rows = Array.from(predictions.classes, (cls, i) =>
    [i, cls, ...Array.from(predictions.probabilities!.subarray(i * c, (i + 1) * c), (p) => p.toPrecision(6))].join(","),
  );
  return [header, ...rows].join("\n") + "\n";
}

/** Predictions as JSON lines: {"index", "prediction", "probabilities"}. */
export function predictionsToJsonl(predictions: Predictions): string {
  const c = predictions.numClasses;
  return Array.from(predictions.classes, (cls, i) =>
    JSON.stringify({ index: i, prediction: cls, probabilities: Array.from(predictions.probabilities!.subarray(i * c, (i + 1) * c)) }),
  ).join("\n") + "\n";
}
