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
import { loadStateModel, stateTaskId } from "./state_model.js";

export async function predictState(request: {
  state: string;
  data: DataFile;
  /** Settings that override those the state remembers from its training data (header, labelColumn, scale, layout). */
  format?: Partial<DataFormat>;
  taskId?: string;
  backend?: BackendName;
  /** Warnings about the state (e.g. format 1: no manifest checksum). */
  logger?: Logger;
}): Promise<Predictions & { read: DataReading; classNames?: string[] }> {
  const { model, dataFormat, classMeans } = await loadStateModel(request.state, request.backend, request.logger);
  try {
    const taskId = stateTaskId(model, request.state, request.taskId, request.logger);
    const { samples, reading } = await readPredictionFileWithInfo(request.data, dataFormatFor(model.inputShape, dataFormat, request.format), {
      featureShape: model.inputShape,
      numClasses: model.numClasses,
    });
    const predictions = await predict(model, samples, { probabilities: true, classMeans, ...(taskId === undefined ? {} : { taskId }) });
    return { ...predictions, read: reading, ...(reading.classNames === undefined ? {} : { classNames: reading.classNames }) };
  } finally {
    model.dispose();
  }
}

/** A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Predictions as CSV: index,prediction,p_0..p_{C-1}; with `classNames` (the state's, in index order) also a
 * `class` column after `prediction`: the predicted class's name (empty for an index the list does not name).
 */
export function predictionsToCsv(predictions: Predictions, classNames?: readonly string[]): string {
  const c = predictions.numClasses;
  const named = classNames !== undefined;
  const header = ["index", "prediction", ...(named ? ["class"] : []), ...Array.from({ length: c }, (_, k) => `p_${k}`)].join(",");
  const rows = Array.from(predictions.classes, (cls, i) =>
    [
      i, cls, ...(named ? [csvField(classNames[cls] ?? "")] : []),
      ...Array.from(predictions.probabilities!.subarray(i * c, (i + 1) * c), (p) => p.toPrecision(6)),
    ].join(","),
  );
  return [header, ...rows].join("\n") + "\n";
}

/**
 * A note for stderr when some rows predict an output the state has no name for (a model made with more outputs
 * than the data has named, e.g. `init --classes 3` on data naming 2): the `class` field is empty (CSV) or null
 * (JSON) on those rows, which a reader of the output alone could take for a missing value (tester G, F16).
 * Undefined when every prediction is named, or when the state has no names at all.
 */
export function unnamedPredictionsNote(predictions: Predictions, classNames?: readonly string[]): string | undefined {
  if (classNames === undefined) return undefined;
  const counts = new Map<number, number>();
  for (const cls of predictions.classes) if (classNames[cls] === undefined) counts.set(cls, (counts.get(cls) ?? 0) + 1);
  if (counts.size === 0) return undefined;
  const rows = [...counts.values()].reduce((a, b) => a + b, 0);
  const outputs = [...counts.keys()].sort((a, b) => a - b);
  return (
    `${rows} of ${predictions.classes.length} rows predict ${outputs.length === 1 ? "output" : "outputs"} ${outputs.join(", ")}, which ` +
    `${outputs.length === 1 ? "has" : "have"} no class name (the state names ${classNames.length} of the model's ${predictions.numClasses} outputs): ` +
    `their class field is empty. An output no labelled data has named was never trained towards; name it in "data.classNames" of the config if it has a meaning`
  );
}

/** Predictions as JSON lines: {"index", "prediction", "probabilities"}, and "class" (the name, null when unnamed) with `classNames`. */
export function predictionsToJsonl(predictions: Predictions, classNames?: readonly string[]): string {
  const c = predictions.numClasses;
  return Array.from(predictions.classes, (cls, i) =>
    JSON.stringify({
      index: i,
      prediction: cls,
      ...(classNames === undefined ? {} : { class: classNames[cls] ?? null }),
      probabilities: Array.from(predictions.probabilities!.subarray(i * c, (i + 1) * c)),
    }),
  ).join("\n") + "\n";
}
