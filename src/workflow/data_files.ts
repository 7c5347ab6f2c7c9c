/**
 * Reading one data file of the production workflow: a CSV file, or an IDX
 * images file with its labels file, told apart by content (data.format "auto")
 * or by the config's data.format, never by the file's name; either may be gzip'd.
 * The data must fit the model (sample size, class count): a mismatch names the
 * file before anything is trained or written. Samples whose size fits but whose
 * shape differs (IDX [28, 28] or 784 CSV columns for a model taking [28, 28, 1])
 * take the model's shape: both are row-major.
 * Data to predict on may come without labels. Each read also says how the file
 * was read (rows, CSV header, label column), for summaries.
 */
import { featureSize, type Dataset, type UnlabelledSamples } from "../data/dataset.js";
import { type CsvHeaderRule, type CsvInfo, type CsvOptions } from "../data/csv.js";
import { loadCsvWithInfo, loadPredictionCsvWithInfo } from "../data/csv_file.js";
import { checkClassNamesFit } from "../data/label_map.js";
import { loadIdx, loadIdxImages } from "../data/idx_file.js";
import { readStart } from "../data/file_bytes.js";
import { detectDataKind, looksLikeIdx, type DataKind } from "../data/file_kind.js";
import type { DelimiterRule } from "../data/csv_dialect.js";
import { DataError, OptionsError } from "../errors.js";
import type { DataFormat } from "./config.js";

export interface DataFile {
  /** A CSV/TSV text file or an IDX images file, either plain or gzip'd (any name). */
  path: string;
  /** The IDX labels file; required for IDX data to train or evaluate on, optional to predict on. */
  labels?: string | undefined;
  /** How the user gives `labels`, for the error when it is missing (e.g. "--val-labels"). Default "--labels". */
  labelsSetting?: string | undefined;
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
  /** CSV: the field separator, and whether it was set, detected or remembered from the state's training file. */
  delimiter?: string;
  delimiterRule?: DelimiterRule;
  /** CSV with a header: the feature columns' names, in the order the samples hold them (the model's inputs). */
  featureNames?: string[];
  /** CSV: true (else absent) when the file's feature columns were put in the training file's order by name. */
  columnsReordered?: true;
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
 * from (for errors), `newClassNames`: whether label names not in `classNames` are added ("add": a
 * state's first update building its list) or an error (the default), `delimiterFallback`, the training
 * file's separator (settles a file whose separator cannot be detected), `featureNames`, the training file's
 * feature column names (a file with a header is read by them), and `labelColumnFallback`, the training
 * file's label column (where the label is in a file without a header). See CsvOptions.
 */
export type ReadFormat = DataFormat & {
  headerFallback?: boolean;
  /** The resumed model's output count, for messages about unnamed outputs (CsvOptions.modelOutputs). */
  modelOutputs?: number;
  headerSource?: string;
  newClassNames?: "error" | "add";
  delimiterFallback?: string;
  featureNames?: readonly string[];
  labelColumnFallback?: { index: number; name?: string | undefined };
};

const FORMAT_SETTING = `the config's "data.format" or --data-format`;

/** What `file` holds: the config's data.format when set (checked against the content), else told from the content. */
async function dataKind(path: string, format: ReadFormat): Promise<DataKind> {
  const start = await readStart(path);
  if (format.format === undefined || format.format === "auto") return detectDataKind(start, path);
  if (format.format === "csv" && looksLikeIdx(start)) {
    throw new DataError(`${path}: the format is set to "csv" but the file starts with an IDX magic number: set "idx" or "auto" in ${FORMAT_SETTING}`);
  }
  if (format.format === "idx" && !looksLikeIdx(start)) {
    const text = !start.includes(0);
    throw new DataError(
      `${path}: the format is set to "idx" but the file does not start with an IDX magic number (0x00 0x00 <type> <dims>)` +
        (text ? `; it is text: set "csv" or "auto" in ${FORMAT_SETTING}` : ""),
    );
  }
  return format.format;
}

/** Loads a data file with the config's format settings for a model of `featureShape` and `numClasses`. */
export async function readDataFile(file: DataFile, format: ReadFormat, model: ModelShape): Promise<Dataset> {
  return (await readDataFileWithInfo(file, format, model)).samples;
}

/** As `readDataFile`, and how the file was read. */
export async function readDataFileWithInfo(file: DataFile, format: ReadFormat, model: ModelShape): Promise<ReadData<Dataset>> {
  if ((await dataKind(file.path, format)) === "csv") {
    if (file.labels !== undefined) throw new OptionsError(`${file.path}: a CSV file carries its labels; drop the labels file ${file.labels}`);
    const { dataset, info } = await loadCsvWithInfo(file.path, { ...(model.numClasses === undefined ? {} : { numClasses: model.numClasses }), ...csvOptions(format) });
    return checkedSamples(file, dataset, model, csvReading(info));
  }
  if (file.labels === undefined) throw new OptionsError(`${file.path}: IDX images (told by the file's IDX magic number) need their labels file too (${file.labelsSetting ?? "--labels"})`);
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
  const isCsv = (await dataKind(file.path, format)) === "csv";
  if (isCsv && file.labels === undefined) {
    const { samples, info } = await loadPredictionCsvWithInfo(file.path, { ...csvOptions(format, false, true), inputs: featureSize(model.featureShape) });
    return checkedSamples(file, samples, model, csvReading(info, format.classNames));
  }
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
    ...(!labelled || format.modelOutputs === undefined ? {} : { modelOutputs: format.modelOutputs }),
    ...(format.header === undefined ? {} : { header: format.header }),
    ...(format.headerFallback === undefined ? {} : { headerFallback: format.headerFallback }),
    ...(format.headerSource === undefined ? {} : { headerSource: format.headerSource }),
    ...(format.delimiter === undefined ? {} : { delimiter: format.delimiter }),
    ...(format.delimiterFallback === undefined ? {} : { delimiterFallback: format.delimiterFallback }),
    ...(!labelColumn || format.labelColumn === undefined ? {} : { labelColumn: format.labelColumn }),
    ...(format.featureNames === undefined ? {} : { featureNames: format.featureNames }),
    ...(!labelColumn || format.labelColumnFallback === undefined ? {} : { labelColumnFallback: format.labelColumnFallback }),
  };
}

function csvReading(info: CsvInfo, classNames?: string[]): DataReading {
  const names = info.classNames ?? classNames;
  return {
    file: info.source, format: "csv", rows: info.rows, header: info.header, headerRule: info.headerRule, labelColumn: info.labelColumn,
    delimiter: info.delimiter, delimiterRule: info.delimiterRule,
    ...(info.featureNames === undefined ? {} : { featureNames: info.featureNames }),
    ...(info.columnsReordered === undefined ? {} : { columnsReordered: info.columnsReordered }),
    ...(names === undefined ? {} : { classNames: names }),
    ...(info.warnings === undefined ? {} : { warnings: info.warnings }),
  };
}

function idxReading(file: DataFile, rows: number, classNames: string[] | undefined): DataReading {
  return { file: file.path, format: "idx", rows, header: null, labelColumn: null, ...(classNames === undefined ? {} : { classNames }) };
}

/**
 * `samples` when they fit the model and are not empty, in the model's shape when only the shape differs
 * (flat rows for a model taking [h, w, c] and back: the values are row-major either way); else a DataError naming the file.
 */
function checkedSamples<T extends UnlabelledSamples>(file: DataFile, samples: T, model: { featureShape: readonly number[] }, reading: DataReading): ReadData<T> {
  if (samples.featureShape.join("x") !== model.featureShape.join("x") && featureSize(samples.featureShape) === featureSize(model.featureShape)) {
    return checkedSamples(file, { ...samples, featureShape: [...model.featureShape] }, model, reading);
  }
  if (samples.featureShape.join("x") !== model.featureShape.join("x")) {
    // What looked wrong in the file (another separator, a pandas index column) is likely why.
    const hints = reading.warnings === undefined ? "" : `; ${reading.warnings.join("; ")}`;
    throw new DataError(`${file.path}: samples have shape [${samples.featureShape}] but the model takes [${model.featureShape}]${hints}`);
  }
  if (samples.length === 0) throw new DataError(`${file.path}: no samples`);
  return { samples, reading };
}
