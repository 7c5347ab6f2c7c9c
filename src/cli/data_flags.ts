/**
 * The data-reading flags of the commands that read data files: `--header`
 * (whether line 1 of a CSV file is a header row), `--delimiter` and
 * `--data-format`. One parser and one help text each for update, evaluate,
 * predict and init, and one way to print how a file was read.
 */
import { InvalidArgumentError, Option } from "commander";
import { describeColumn } from "../data/csv.js";
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

/** `--delimiter <char>`: the CSV field separator ("tab" or "\t" for a tab). */
export function delimiterOption(defaultText: string): Option {
  return new Option(
    "--delimiter <char>",
    `CSV field separator: one character, e.g. , ; | or tab; default: ${defaultText}`,
  ).argParser(parseDelimiter);
}

export function parseDelimiter(value: string): string {
  const delimiter = value === "tab" || value === "\\t" ? "\t" : value;
  if (delimiter.length !== 1) throw new InvalidArgumentError(`expected one character (e.g. , ; | or tab), got "${value}"`);
  return delimiter;
}

/** `--label-column <column>`: the CSV column holding the label, a header name or a 0-based index (all digits). */
export function labelColumnOption(defaultText: string): Option {
  return new Option("--label-column <column>", `CSV column holding the label: a header name, or a 0-based index; default: ${defaultText}`).argParser(parseLabelColumn);
}

export function parseLabelColumn(value: string): string | number {
  if (value.trim() === "") throw new InvalidArgumentError("expected a column name or a 0-based index");
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** `--data-format <auto|csv|idx>`: what the data files are. */
export function dataFormatOption(defaultText: string): Option {
  return new Option(
    "--data-format <format>",
    "what the data files are: csv (delimited text), idx (images + --labels file) or auto (told from the content: IDX magic " +
      `number or text, inside gzip too; never from the file name); default: ${defaultText}`,
  ).choices(["auto", "csv", "idx"]);
}

/** The data settings given by --header, --delimiter, --data-format and --label-column (those not given left out). */
export function dataFlagSettings(flags: { header?: boolean | "auto"; delimiter?: string; dataFormat?: "auto" | "csv" | "idx"; labelColumn?: string | number }): {
  header?: boolean | "auto";
  delimiter?: string;
  format?: "auto" | "csv" | "idx";
  labelColumn?: string | number;
} {
  return {
    ...(flags.header === undefined ? {} : { header: flags.header }),
    ...(flags.labelColumn === undefined ? {} : { labelColumn: flags.labelColumn }),
    ...(flags.delimiter === undefined ? {} : { delimiter: flags.delimiter }),
    ...(flags.dataFormat === undefined ? {} : { format: flags.dataFormat }),
  };
}

const DELIMITER_NAMES: Record<string, string> = { "\t": "tab", ";": "';'", "|": "'|'" };

const HEADER_RULES: Record<string, string> = {
  setting: "as set",
  names: "auto: line 1 has names",
  "column-numbers": "auto: line 1 is 0,1,...,n-1, pandas' column names",
  numbers: "auto: line 1 is data",
  remembered: "auto: line 1 is whole numbers, read as in the state's training file",
};

/** A line 1 of whole numbers judged against the training file's column names: it is them (a header) or it is not (data). */
const FEATURE_NAMES_RULE = (header: boolean) =>
  header ? "auto: line 1 is whole numbers, the training file's column names" : "auto: line 1 is whole numbers, not the training file's column names: data";

/**
 * "CSV, header row: yes (auto: line 1 has names), label column 9 ("label", index 8)", or "IDX". With `labelsRead` false (data
 * to predict on), the label column is said to be left unread.
 */
export function describeReading(read: DataReading, { labelsRead = true } = {}): string {
  if (read.format === "idx") return "IDX";
  const rule = read.headerRule === "feature-names" ? FEATURE_NAMES_RULE(read.header === true) : read.headerRule ? HEADER_RULES[read.headerRule] : undefined;
  const header = `header row: ${read.header ? "yes" : "no"}${rule === undefined ? "" : ` (${rule})`}`;
  // Columns listed in another order than the training file's were put back in its order by name: say so.
  const reordered = read.columnsReordered ? ", feature columns reordered by name to the training file's order" : "";
  const label =
    read.labelColumn === null
      ? ""
      : `, label ${describeColumn(read.labelColumn.index, read.labelColumn.name)}${labelsRead ? "" : " (not read)"}`;
  const warnings = (read.warnings ?? []).map((warning) => `; warning: ${warning}`).join("");
  // Commas go unsaid, as most files use them; any other separator is named, with how it was chosen.
  const separator =
    read.delimiter === undefined || read.delimiter === ","
      ? ""
      : ` (${DELIMITER_NAMES[read.delimiter] ?? `'${read.delimiter}'`}-separated${read.delimiterRule === "setting" ? "" : `, ${read.delimiterRule}`})`;
  return `CSV${separator}, ${header}${label}${reordered}${warnings}`;
}
