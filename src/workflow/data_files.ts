/**
 * Reading one data file of the production workflow: a CSV file, or an IDX
 * images file with its labels file. The data must fit the model (sample shape,
 * class count): a mismatch names the file before anything is trained or written.
 */
import type { Dataset } from "../data/dataset.js";
import { loadCsv } from "../data/csv_file.js";
import { loadIdx } from "../data/idx_file.js";
import { DataError, OptionsError } from "../errors.js";
import type { RelearnConfig } from "./config.js";

export interface DataFile {
  /** A .csv file, or an IDX images file (plain or .gz). */
  path: string;
  /** The IDX labels file; required for IDX data. */
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
  const expected = model.featureShape.join("x");
  if (dataset.featureShape.join("x") !== expected) {
    throw new DataError(`${file.path}: samples have shape [${dataset.featureShape}] but the model takes [${model.featureShape}]`);
  }
  if (dataset.length === 0) throw new DataError(`${file.path}: no samples`);
  return dataset;
}
