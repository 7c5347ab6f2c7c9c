/** Node-only file reading for csv.ts: UTF-8 text, plain or gzip'd (told by content, not by the name). */
import { readMaybeGzip } from "./file_bytes.js";
import type { Dataset, UnlabelledSamples } from "./dataset.js";
import { parseCsvWithInfo, parsePredictionCsvWithInfo, parseUnlabelledCsvWithInfo, type CsvInfo, type CsvOptions, type CsvRowOptions } from "./csv.js";

/** Reads a numeric CSV file (UTF-8, plain or gzip'd; any delimiter, see CsvOptions.delimiter) as a Dataset; error messages name `path`. */
export async function loadCsv(path: string, options: Omit<CsvOptions, "source"> = {}): Promise<Dataset> {
  return (await loadCsvWithInfo(path, options)).dataset;
}

/** As `loadCsv`, and how the file was read (rows, header, label column). */
export async function loadCsvWithInfo(path: string, options: Omit<CsvOptions, "source"> = {}): Promise<{ dataset: Dataset; info: CsvInfo }> {
  return parseCsvWithInfo(await readText(path), { ...options, source: path });
}

/** Reads a numeric CSV file whose every column is a feature (no labels), e.g. new data to predict on. */
export async function loadUnlabelledCsv(path: string, options: Omit<CsvRowOptions, "source"> = {}): Promise<UnlabelledSamples> {
  return (await loadUnlabelledCsvWithInfo(path, options)).samples;
}

/** As `loadUnlabelledCsv`, and how the file was read (rows, header). */
export async function loadUnlabelledCsvWithInfo(
  path: string,
  options: Omit<CsvRowOptions, "source"> = {},
): Promise<{ samples: UnlabelledSamples; info: CsvInfo }> {
  return parseUnlabelledCsvWithInfo(await readText(path), { ...options, source: path });
}

/** Reads a CSV file to predict on, its label column (if any) dropped unread (see parsePredictionCsvWithInfo). */
export async function loadPredictionCsvWithInfo(
  path: string,
  options: Omit<CsvRowOptions, "source"> & Pick<CsvOptions, "labelColumn"> & { inputs: number },
): Promise<{ samples: UnlabelledSamples; info: CsvInfo }> {
  return parsePredictionCsvWithInfo(await readText(path), { ...options, source: path });
}

async function readText(path: string): Promise<string> {
  return new TextDecoder("utf-8").decode(await readMaybeGzip(path));
}
