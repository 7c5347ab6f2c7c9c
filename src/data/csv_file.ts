/** Node-only file reading for csv.ts. */
import { readFile } from "node:fs/promises";
import { DataError } from "../errors.js";
import type { Dataset, UnlabelledSamples } from "./dataset.js";
import { parseCsv, parseUnlabelledCsv, type CsvOptions } from "./csv.js";

/** Reads a numeric CSV file (UTF-8) as a Dataset; error messages name `path`. */
export async function loadCsv(path: string, options: Omit<CsvOptions, "source"> = {}): Promise<Dataset> {
  return parseCsv(await readText(path), { ...options, source: path });
}

/** Reads a numeric CSV file whose every column is a feature (no labels), e.g. new data to predict on. */
export async function loadUnlabelledCsv(path: string, options: Pick<CsvOptions, "header" | "delimiter"> = {}): Promise<UnlabelledSamples> {
  return parseUnlabelledCsv(await readText(path), { ...options, source: path });
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { cause: error });
  }
}
