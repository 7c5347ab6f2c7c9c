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
import { UNNAMED_FIRST_COLUMN, type CsvHeaderRule, type CsvInfo, type CsvOptions } from "../data/csv.js";
import { loadCsvWithInfo, loadUnlabelledCsvWithInfo } from "../data/csv_file.js";
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
  /** CSV: the field separator, and whether it was set, detected or remembered from the state's training file. */
  delimiter?: string;
  delimiterRule?: DelimiterRule;
  /** CSV: what looks wrong but was read anyway (see CsvInfo.warnings); absent when nothing does. */
  warnings?: string[];
}

/** Samples read from a data file and how they were read. */
export interface ReadData<T extends UnlabelledSamples> {
  samples: T;
  reading: DataReading;
}

type ModelShape = { featureShape: readonly number[]; numClasses: number };

/**
 * A config's data settings, and for CSV files read for a state: `headerFallback`, how the training
 * file's line 1 was read (settles a line 1 "auto" cannot), `headerSource`, where `header` came
 * from (for errors), and `delimiterFallback`, the training file's separator (settles a file whose
 * separator cannot be detected). See CsvOptions.
 */
export type ReadFormat = DataFormat & { headerFallback?: boolean; headerSource?: string; delimiterFallback?: string };

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
    const { dataset, info } = await loadCsvWithInfo(file.path, { numClasses: model.numClasses, ...csvOptions(format) });
    return checkedSamples(file, dataset, model, csvReading(info));
  }
  if (file.labels === undefined) throw new OptionsError(`${file.path}: IDX images (told by the file's IDX magic number) need their labels file too (--labels)`);
  const dataset = await loadIdx({
    images: file.path,
    labels: file.labels,
    numClasses: model.numClasses,
    layout: format.layout,
    ...(format.scale === undefined ? {} : { scale: format.scale }),
  });
  return checkedSamples(file, dataset, model, idxReading(file, dataset.length));
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
    // The header setting applies to both reads, so both see the same rows.
    const { samples, info } = await loadUnlabelledCsvWithInfo(file.path, csvOptions(format, false));
    const inputs = featureSize(model.featureShape);
    // One column too many is a label column, unless it is pandas' unnamed index column: then the shape error says so.
    const indexed = info.warnings?.includes(UNNAMED_FIRST_COLUMN) ?? false;
    if (samples.featureShape[0] !== inputs + 1 || indexed) return checkedSamples(file, samples, model, csvReading(info));
    const labelled = await loadCsvWithInfo(file.path, csvOptions(format));
    return checkedSamples(file, labelled.dataset, model, csvReading(labelled.info));
  }
  if (!isCsv && file.labels === undefined) {
    const images = await loadIdxImages(file.path, { layout: format.layout, ...(format.scale === undefined ? {} : { scale: format.scale }) });
    return checkedSamples(file, images, model, idxReading(file, images.length));
  }
  return readDataFileWithInfo(file, format, model);
}

function csvOptions(format: ReadFormat, labelled = true): Omit<CsvOptions, "source"> {
  return {
    ...(format.header === undefined ? {} : { header: format.header }),
    ...(format.headerFallback === undefined ? {} : { headerFallback: format.headerFallback }),
    ...(format.headerSource === undefined ? {} : { headerSource: format.headerSource }),
    ...(format.delimiter === undefined ? {} : { delimiter: format.delimiter }),
    ...(format.delimiterFallback === undefined ? {} : { delimiterFallback: format.delimiterFallback }),
    ...(!labelled || format.labelColumn === undefined ? {} : { labelColumn: format.labelColumn }),
  };
}

function csvReading(info: CsvInfo): DataReading {
  return {
    file: info.source, format: "csv", rows: info.rows, header: info.header, headerRule: info.headerRule, labelColumn: info.labelColumn,
    delimiter: info.delimiter, delimiterRule: info.delimiterRule,
    ...(info.warnings === undefined ? {} : { warnings: info.warnings }),
  };
}

function idxReading(file: DataFile, rows: number): DataReading {
  return { file: file.path, format: "idx", rows, header: null, labelColumn: null };
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
