/**
 * `relearn predict`: the state's model's predicted class and class
 * probabilities for every row of a data file. The file needs no labels; if
 * it has them they are ignored.
 */
import type { BackendName } from "../backend/backend.js";
import { predict, type Predictions } from "../training/predict.js";
import type { RelearnConfig } from "./config.js";
import { readPredictionFile, type DataFile } from "./data_files.js";
import { loadStateModel } from "./state_model.js";

export async function predictState(request: {
  state: string;
  data: DataFile;
  format?: RelearnConfig["data"];
  taskId?: string;
  backend?: BackendName;
}): Promise<Predictions> {
  const model = await loadStateModel(request.state, request.backend);
  try {
    const samples = await readPredictionFile(request.data, request.format ?? { layout: model.inputShape.length > 1 ? "hwc" : "flat" }, {
      featureShape: model.inputShape,
      numClasses: model.numClasses,
    });
    return await predict(model, samples, { probabilities: true, ...(request.taskId ? { taskId: request.taskId } : {}) });
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
