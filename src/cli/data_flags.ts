/**
 * The `--header` flag of the commands that read CSV files: whether line 1 is
 * a header row. One parser and one help text for update, evaluate, predict
 * and init, and one way to print how a file was read.
 */
import { InvalidArgumentError, Option } from "commander";
import type { DataReading } from "../workflow/data_files.js";

const HEADER_HELP =
  'whether line 1 of a CSV file is a header row: true, false or auto (a header when a field is not a number, ' +
  "or when it is 0,1,...,n-1 as pandas writes unnamed columns; an error when it could be either)";

/** `--header <true|false|auto>`; `defaultText` says where the value comes from when the flag is absent. */
export function headerOption(defaultText: string): Option {
  return new Option("--header <mode>", `${HEADER_HELP}; default: ${defaultText}`).argParser(parseHeader);
}

export function parseHeader(value: string): boolean | "auto" {
  if (value === "true") return true;
  if (value === "false") return false;
  if (value === "auto") return "auto";
  throw new InvalidArgumentError(`expected true, false or auto, got "${value}"`);
}

const HEADER_RULES: Record<string, string> = {
  setting: "as set",
  names: "auto: line 1 has names",
  "column-numbers": "auto: line 1 is 0,1,...,n-1, pandas' column names",
  numbers: "auto: line 1 is data",
  remembered: "auto: line 1 is whole numbers, read as in the state's training file",
};

/** "CSV, header row: yes (auto: line 1 has names), label column 8 ("label")", or "IDX". */
export function describeReading(read: DataReading): string {
  if (read.format === "idx") return "IDX";
  const header = `header row: ${read.header ? "yes" : "no"}${read.headerRule ? ` (${HEADER_RULES[read.headerRule]})` : ""}`;
  const label = read.labelColumn === null ? "" : `, label column ${read.labelColumn.index}${read.labelColumn.name === undefined ? "" : ` ("${read.labelColumn.name}")`}`;
  const warnings = (read.warnings ?? []).map((warning) => `; warning: ${warning}`).join("");
  return `CSV, ${header}${label}${warnings}`;
}
