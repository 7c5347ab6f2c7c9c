/** Node-only file reading for csv.ts. */
import { readFile } from "node:fs/promises";
import { DataError } from "../errors.js";
import type { Dataset } from "./dataset.js";
import { parseCsv, type CsvOptions } from "./csv.js";

/** Reads a numeric CSV file (UTF-8) as a Dataset; error messages name `path`. */
export async function loadCsv(path: string, options: Omit<CsvOptions, "source"> = {}): Promise<Dataset> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { cause: error });
  }
  return parseCsv(text, { ...options, source: path });
}
