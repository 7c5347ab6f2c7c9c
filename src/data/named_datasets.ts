/**
 * Train/test data by name or path, for the CLI and benchmarks (Node only):
 * "fashion-mnist" (the full set from Debian's dataset-fashion-mnist),
 * "fashion-mnist-bundled" (the subset shipped in the repository), "auto"
 * (full when installed, else bundled), "letter" (UCI Letter Recognition,
 * tabular, shipped in the repository), a folder of IDX files named like
 * MNIST's, or a CSV file with a separate CSV test file.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { OptionsError } from "../errors.js";
import type { Dataset } from "./dataset.js";
import { loadCsv, loadCsvWithInfo } from "./csv_file.js";
import type { CsvHeader } from "./csv.js";
import { FASHION_MNIST_CLASSES, loadFashionMnist } from "./fashion_mnist.js";
import { loadIdx } from "./idx_file.js";
import { LETTER_CLASSES, loadLetter } from "./letter.js";

export interface NamedData {
  /** A short name for reports, e.g. "fashion-mnist". */
  name: string;
  train: Dataset;
  test: Dataset;
  /** Class names indexed by label, for data sets that have them (Fashion-MNIST, Letter). */
  classNames?: readonly string[];
}

export interface LoadNamedDataOptions {
  /** Test CSV; required when `dataset` is a CSV file. */
  testDataset?: string | undefined;
  /** "flat" (default) or "hwc" images, for IDX data. */
  layout?: "flat" | "hwc" | undefined;
  /** Whether line 1 of the CSV files is a header row (see CsvOptions.header); default "auto". */
  header?: CsvHeader | undefined;
}

const IDX_NAMES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

/** Loads the named data set or the files at `dataset`. */
export async function loadNamedData(dataset: string, options: LoadNamedDataOptions = {}): Promise<NamedData> {
  const layout = options.layout ?? "flat";
  if (dataset === "fashion-mnist" || dataset === "fashion-mnist-bundled" || dataset === "auto") {
    const source = dataset === "fashion-mnist" ? "full" : dataset === "auto" ? "auto" : "bundled";
    const loaded = await loadFashionMnist({ source, layout });
    return {
      name: loaded.source === "full" ? "fashion-mnist" : "fashion-mnist-bundled",
      train: loaded.train,
      test: loaded.test,
      classNames: FASHION_MNIST_CLASSES,
    };
  }
  if (dataset === "letter") {
    const loaded = await loadLetter();
    return { name: "letter", train: loaded.train, test: loaded.test, classNames: LETTER_CLASSES };
  }
  if (dataset.toLowerCase().endsWith(".csv")) {
    if (!options.testDataset) throw new OptionsError(`${dataset}: a CSV training file needs a CSV test file too (--test-dataset)`);
    const header = options.header ?? "auto";
    // Name labels ("A".."Z") become classes sorted by name, from the training file (classNames); the test file maps through the same list.
    const { dataset: train, info } = await loadCsvWithInfo(dataset, { header, newClassNames: "add" });
    const { classNames } = info;
    // The test file's columns are the training file's: with headers, by name (another order is put right, other names are an error).
    const columns = info.featureNames === undefined || info.labelColumn === null ? {} : { featureNames: info.featureNames, labelColumnFallback: info.labelColumn };
    const test = await loadCsv(options.testDataset, { numClasses: train.numClasses, header, ...columns, ...(classNames === undefined ? {} : { classNames }) });
    return { name: dataset, train, test, ...(classNames === undefined ? {} : { classNames }) };
  }
  const folder = await stat(dataset).catch(() => null);
  if (!folder?.isDirectory()) {
    throw new OptionsError(
      `unknown dataset "${dataset}": use fashion-mnist, fashion-mnist-bundled, auto, letter, a folder of IDX files, or a .csv file`,
    );
  }
  const file = async (name: string) => {
    for (const candidate of [join(dataset, `${name}.gz`), join(dataset, name)]) if (await stat(candidate).catch(() => null)) return candidate;
    throw new OptionsError(`${dataset}: neither ${name}.gz nor ${name} is there`);
  };
  const train = await loadIdx({ images: await file(IDX_NAMES.trainImages), labels: await file(IDX_NAMES.trainLabels), layout });
  const test = await loadIdx({ images: await file(IDX_NAMES.testImages), labels: await file(IDX_NAMES.testLabels), layout });
  return { name: dataset, train, test };
}
