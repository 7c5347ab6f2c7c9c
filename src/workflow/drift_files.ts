/**
 * `relearn drift`: is a data file distributed like a reference file? The
 * features compared are a state's model's penultimate-layer features (with
 * `state`), or the raw features: shaped by a config's model input and read
 * with its data settings (with `config`; a label column is dropped), else
 * every column of two CSV files. The library call behind the CLI.
 */
import { initBackend, type BackendName } from "../backend/backend.js";
import type { UnlabelledSamples } from "../data/dataset.js";
import { loadUnlabelledCsvWithInfo } from "../data/csv_file.js";
import { detectSampleDrift, type DriftOptions, type DriftReport } from "../drift/detector.js";
import { OptionsError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { RelearnConfig } from "./config.js";
import { readPredictionFileWithInfo, type DataFile, type DataReading, type ReadData } from "./data_files.js";
import { dataFormatFor } from "./state_data.js";
import { loadStateModel } from "./state_model.js";

export interface DriftRequest {
  reference: DataFile;
  data: DataFile;
  /** Compare the penultimate-layer features of this state's model (files read with the state's data settings). */
  state?: string | undefined;
  /** With `state`: compare raw features instead (still read as the state reads data). */
  raw?: boolean | undefined;
  /** Without `state`: the model input shape and data settings to read the files with. */
  config?: RelearnConfig | undefined;
  /** CSV header setting for both files (overrides the state's or config's). */
  header?: boolean | "auto" | undefined;
  options?: DriftOptions | undefined;
  backend?: BackendName | undefined;
  logger?: Logger | undefined;
}

export interface DriftFilesReport extends DriftReport {
  /** "penultimate": the state's model's body output; "raw": the files' features. */
  on: "penultimate" | "raw";
  readings: { reference: DataReading; data: DataReading };
}

/** Reads both files, runs the detector and frees everything; errors name the file or option to fix. */
export async function driftFromFiles(request: DriftRequest): Promise<DriftFilesReport> {
  const options = request.options ?? {};
  const given = request.header === undefined ? {} : { header: request.header };
  if (request.state !== undefined) {
    if (request.config !== undefined) throw new OptionsError("drift: give --state or --config, not both (the state's data settings and model are used with --state)");
    const { model, dataFormat } = await loadStateModel(request.state, request.backend, request.logger);
    try {
      const format = dataFormatFor(model.inputShape, dataFormat, given);
      const shape = { featureShape: model.inputShape, numClasses: model.numClasses };
      const reference = await readPredictionFileWithInfo(request.reference, format, shape);
      const data = await readPredictionFileWithInfo(request.data, format, shape);
      const report = await detectSampleDrift(reference.samples, data.samples, request.raw ? options : { ...options, model });
      return { ...report, on: request.raw ? "raw" : "penultimate", readings: { reference: reference.reading, data: data.reading } };
    } finally {
      model.dispose();
    }
  }
  await initBackend(request.backend ?? "auto");
  const [reference, data] = request.config === undefined
    ? [await readAllColumns(request.reference, request.header), await readAllColumns(request.data, request.header)]
    : await readWithConfig(request, request.config, given);
  const report = await detectSampleDrift(reference.samples, data.samples, options);
  return { ...report, on: "raw", readings: { reference: reference.reading, data: data.reading } };
}

async function readWithConfig(request: DriftRequest, config: RelearnConfig, given: { header?: boolean | "auto" }): Promise<[ReadData<UnlabelledSamples>, ReadData<UnlabelledSamples>]> {
  const format = { ...config.data, ...given };
  const shape = { featureShape: config.model.inputShape, numClasses: config.model.classes };
  return [await readPredictionFileWithInfo(request.reference, format, shape), await readPredictionFileWithInfo(request.data, format, shape)];
}

/** Every column of a CSV file as a feature (nothing tells a label column apart without a config). */
async function readAllColumns(file: DataFile, header: boolean | "auto" | undefined): Promise<ReadData<UnlabelledSamples>> {
  if (!file.path.toLowerCase().endsWith(".csv") || file.labels !== undefined) {
    throw new OptionsError(`drift: ${file.path}: without --config or --state only .csv files are read; pass --config (its model.inputShape and data settings) to read IDX images`);
  }
  const { samples, info } = await loadUnlabelledCsvWithInfo(file.path, header === undefined ? {} : { header });
  const reading: DataReading = {
    file: info.source, format: "csv", rows: info.rows, header: info.header, headerRule: info.headerRule, labelColumn: null,
    ...(info.warnings === undefined ? {} : { warnings: info.warnings }),
  };
  return { samples, reading };
}
