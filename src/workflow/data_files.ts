/**
 * Reading one data file of the production workflow: a CSV file, or an IDX
 * images file with its labels file. The data must fit the model (sample shape,
 * class count): a mismatch names the file before anything is trained or written.
 * Data to predict on may come without labels. Each read also says how the file
 * was read (rows, CSV header, label column), for summaries.
 */
import { featureSize, type Dataset, type UnlabelledSamples } from "../data/dataset.js";
import { type CsvHeaderRule, type CsvInfo, type CsvOptions } from "../data/csv.js";
import { loadCsvWithInfo, loadPredictionCsvWithInfo } from "../data/csv_file.js";
import { checkClassNamesFit } from "../data/label_map.js";
import { loadIdx, loadIdxImages } from "../data/idx_file.js";
import { DataError, OptionsError } from "../errors.js";
import type { DataFormat } from "./config.js";

export interface DataFile {
  /** A .csv file, or an IDX images file (plain or .gz). */
  path: string;
  /** The IDX labels file; required for IDX data to train or evaluate on, optional to predict on. */
  labels?: string | undefined;
}

/** How a data file was read. */
export interface DataReading {
  file: string;
  format: "csv" | "idx";
  /** Samples read (CSV: data rows, the header row not counted). */
  rows: number;
  /** CSV: whether line 1 was read as a header row; null for IDX. */
  header: boolean | null;
  /** CSV: why (the `header` setting, or what "auto" saw); see CsvHeaderRule. */
  headerRule?: CsvHeaderRule;
  /** CSV: the label column, 0-based, with its header name; null without labels (or for IDX). */
  labelColumn: { index: number; name?: string } | null;
  /**
   * The class names of the labels, in index order, when the format has them or the CSV labels were names
   * (the list the labels were mapped through, names added from the file included); absent otherwise.
   */
  classNames?: string[];
  /** CSV: what looks wrong but was read anyway (see CsvInfo.warnings); absent when nothing does. */
  warnings?: string[];
}

/** Samples read from a data file and how they were read. */
export interface ReadData<T extends UnlabelledSamples> {
  samples: T;
  reading: DataReading;
}

/**
 * What the data must fit. Without `numClasses`, labels are not bounded (any integer >= 0) and a dataset's class
 * count is its largest label + 1: `update` reads so, and the updater judges new classes (growClasses).
 */
type ModelShape = { featureShape: readonly number[]; numClasses?: number | undefined };

/**
 * A config's data settings, and for CSV files read for a state: `headerFallback`, how the training
 * file's line 1 was read (settles a line 1 "auto" cannot), `headerSource`, where `header` came
 * from (for errors), and `newClassNames`: whether label names not in `classNames` are added ("add": a
 * state's first update building its list) or an error (the default). See CsvOptions.
 */
export type ReadFormat = DataFormat & { headerFallback?: boolean; headerSource?: string; newClassNames?: "error" | "add" };

/** Loads a data file with the config's format settings for a model of `featureShape` and `numClasses`. */
export async function readDataFile(file: DataFile, format: ReadFormat, model: ModelShape): Promise<Dataset> {
  return (await readDataFileWithInfo(file, format, model)).samples;
}

/** As `readDataFile`, and how the file was read. */
export async function readDataFileWithInfo(file: DataFile, format: ReadFormat, model: ModelShape): Promise<ReadData<Dataset>> {
  if (file.path.toLowerCase().endsWith(".csv")) {
    if (file.labels !== undefined) throw new OptionsError(`${file.path}: a CSV file carries its labels; drop the labels file ${file.labels}`);
    const { dataset, info } = await loadCsvWithInfo(file.path, { ...(model.numClasses === undefined ? {} : { numClasses: model.numClasses }), ...csvOptions(format) });
    return checkedSamples(file, dataset, model, csvReading(info));
  }
  checkNotTextData(file.path);
  if (file.labels === undefined) throw new OptionsError(`${file.path}: IDX images need their labels file too (--labels)`);
  if (format.classNames !== undefined && model.numClasses !== undefined) checkClassNamesFit(format.classNames, model.numClasses, file.path);
  const dataset = await loadIdx({
    images: file.path,
    labels: file.labels,
    // Unbounded: any label a 32-bit IDX file can hold; the count is then taken from the labels.
    numClasses: model.numClasses ?? 2 ** 31 - 1,
    layout: format.layout,
    ...(format.scale === undefined ? {} : { scale: format.scale }),
  });
  const counted = model.numClasses === undefined ? { ...dataset, numClasses: dataset.labels.reduce((max, label) => Math.max(max, label + 1), 1) } : dataset;
  return checkedSamples(file, counted, model, idxReading(file, counted.length, format.classNames));
}

/**
 * Loads data to predict on: as `readDataFile`, but labels are optional. A
 * CSV file with one column per model input has no labels; with one column
 * more, the label column (chosen as for training) is dropped unread. IDX
 * images without --labels have none.
 */
export async function readPredictionFile(file: DataFile, format: ReadFormat, model: ModelShape): Promise<UnlabelledSamples> {
  return (await readPredictionFileWithInfo(file, format, model)).samples;
}

/** As `readPredictionFile`, and how the file was read. */
export async function readPredictionFileWithInfo(file: DataFile, format: ReadFormat, model: ModelShape): Promise<ReadData<UnlabelledSamples>> {
  const isCsv = file.path.toLowerCase().endsWith(".csv");
  if (isCsv && file.labels === undefined) {
    const { samples, info } = await loadPredictionCsvWithInfo(file.path, { ...csvOptions(format, false, true), inputs: featureSize(model.featureShape) });
    return checkedSamples(file, samples, model, csvReading(info, format.classNames));
  }
  if (!isCsv) checkNotTextData(file.path);
  if (!isCsv && file.labels === undefined) {
    const images = await loadIdxImages(file.path, { layout: format.layout, ...(format.scale === undefined ? {} : { scale: format.scale }) });
    return checkedSamples(file, images, model, idxReading(file, images.length, format.classNames));
  }
  return readDataFileWithInfo(file, format, model);
}

/** CSV options for `format`; `labelled`: labels are read (class names too), `labelColumn`: the label column is located (to drop it). */
function csvOptions(format: ReadFormat, labelled = true, labelColumn = labelled): Omit<CsvOptions, "source"> {
  return {
    ...(!labelled || format.classNames === undefined ? {} : { classNames: format.classNames }),
    ...(!labelled || format.newClassNames === undefined ? {} : { newClassNames: format.newClassNames }),
    ...(format.header === undefined ? {} : { header: format.header }),
    ...(format.headerFallback === undefined ? {} : { headerFallback: format.headerFallback }),
    ...(format.headerSource === undefined ? {} : { headerSource: format.headerSource }),
    ...(!labelColumn || format.labelColumn === undefined ? {} : { labelColumn: format.labelColumn }),
  };
}

/**
 * Files named like text data that is not a plain .csv: everything but .csv is read as IDX, which would
 * fail with a message about IDX (or its labels file) that does not help.
 */
function checkNotTextData(path: string): void {
  const name = path.toLowerCase();
  if (/\.(csv|tsv|txt)\.gz$/.test(name)) {
    throw new OptionsError(`${path}: gzipped CSV is not supported yet: decompress it first (\`gunzip -k ${path}\`) and pass the .csv file`);
  }
  if (name.endsWith(".tsv") || name.endsWith(".txt")) {
    throw new OptionsError(`${path}: only comma-separated files named .csv are read as CSV (every other file is read as IDX): save it as a ',' separated .csv file`);
  }
}

function csvReading(info: CsvInfo, classNames?: string[]): DataReading {
  const names = info.classNames ?? classNames;
  return {
    file: info.source, format: "csv", rows: info.rows, header: info.header, headerRule: info.headerRule, labelColumn: info.labelColumn,
    ...(names === undefined ? {} : { classNames: names }),
    ...(info.warnings === undefined ? {} : { warnings: info.warnings }),
  };
}

function idxReading(file: DataFile, rows: number, classNames: string[] | undefined): DataReading {
  return { file: file.path, format: "idx", rows, header: null, labelColumn: null, ...(classNames === undefined ? {} : { classNames }) };
}

/** `samples` when they fit the model and are not empty; else a DataError naming the file. */
function checkedSamples<T extends UnlabelledSamples>(file: DataFile, samples: T, model: { featureShape: readonly number[] }, reading: DataReading): ReadData<T> {
  if (samples.featureShape.join("x") !== model.featureShape.join("x")) {
    // What looked wrong in the file (another separator, a pandas index column) is likely why.
    const hints = reading.warnings === undefined ? "" : `; ${reading.warnings.join("; ")}`;
    throw new DataError(`${file.path}: samples have shape [${samples.featureShape}] but the model takes [${model.featureShape}]${hints}`);
  }
  if (samples.length === 0) throw new DataError(`${file.path}: no samples`);
  return { samples, reading };
}
