/**
 * Reading one data file of the production workflow: a CSV file, or an IDX
 * images file with its labels file. The data must fit the model (sample shape,
 * class count): a mismatch names the file before anything is trained or written.
 * Data to predict on may come without labels.
 */
import { featureSize, type Dataset, type UnlabelledSamples } from "../data/dataset.js";
import { loadCsv, loadUnlabelledCsv } from "../data/csv_file.js";
import { loadIdx, loadIdxImages } from "../data/idx_file.js";
import { DataError, OptionsError } from "../errors.js";
import type { RelearnConfig } from "./config.js";

export interface DataFile {
  /** A .csv file, or an IDX images file (plain or .gz). */
  path: string;
  /** The IDX labels file; required for IDX data to train or evaluate on, optional to predict on. */
  labels?: string | undefined;
}

/** Loads a data file with the config's format settings for a model of `featureShape` and `numClasses`. */
export async function readDataFile(
  file: DataFile,
  format: RelearnConfig["data"],
  model: { featureShape: readonly number[]; numClasses: number },
): Promise<Dataset> {
  let dataset: Dataset;
  if (file.path.toLowerCase().endsWith(".csv")) {
    if (file.labels !== undefined) throw new OptionsError(`${file.path}: a CSV file carries its labels; drop the labels file ${file.labels}`);
    dataset = await loadCsv(file.path, { numClasses: model.numClasses, ...(format.labelColumn === undefined ? {} : { labelColumn: format.labelColumn }) });
  } else {
    if (file.labels === undefined) throw new OptionsError(`${file.path}: IDX images need their labels file too (--labels)`);
    dataset = await loadIdx({
      images: file.path,
      labels: file.labels,
      numClasses: model.numClasses,
      layout: format.layout,
      ...(format.scale === undefined ? {} : { scale: format.scale }),
    });
  }
  return checkedSamples(file, dataset, model);
}

/**
 * Loads data to predict on: as `readDataFile`, but labels are optional. A
 * CSV file with one column per model input has no labels; with one column
 * more, the label column (chosen as for training) is dropped unread. IDX
 * images without --labels have none.
 */
export async function readPredictionFile(
  file: DataFile,
  format: RelearnConfig["data"],
  model: { featureShape: readonly number[]; numClasses: number },
): Promise<UnlabelledSamples> {
  const isCsv = file.path.toLowerCase().endsWith(".csv");
  if (isCsv && file.labels === undefined) {
    const samples = await loadUnlabelledCsv(file.path);
    const inputs = featureSize(model.featureShape);
    if (samples.featureShape[0] !== inputs + 1) return checkedSamples(file, samples, model);
    const labelled = await loadCsv(file.path, format.labelColumn === undefined ? {} : { labelColumn: format.labelColumn });
    return checkedSamples(file, labelled, model);
  }
  if (!isCsv && file.labels === undefined) {
    const images = await loadIdxImages(file.path, { layout: format.layout, ...(format.scale === undefined ? {} : { scale: format.scale }) });
    return checkedSamples(file, images, model);
  }
  return readDataFile(file, format, model);
}

/** `samples` when they fit the model and are not empty; else a DataError naming the file. */
function checkedSamples<T extends UnlabelledSamples>(file: DataFile, samples: T, model: { featureShape: readonly number[] }): T {
  if (samples.featureShape.join("x") !== model.featureShape.join("x")) {
    throw new DataError(`${file.path}: samples have shape [${samples.featureShape}] but the model takes [${model.featureShape}]`);
  }
  if (samples.length === 0) throw new DataError(`${file.path}: no samples`);
  return samples;
}
