/**
 * Numeric CSV to Dataset: one sample per line, one column of integer labels,
 * every other column a feature. No quoting rules beyond stripping quotes
 * around a field: a file of numbers does not need them.
 */
import { DataError, OptionsError } from "../errors.js";
import { createDataset, type Dataset, type UnlabelledSamples } from "./dataset.js";

/** Options of `parseCsv`. */
export interface CsvOptions {
  /** Column name (needs a header) or 0-based index. Default: the column named "label", else the last one. */
  labelColumn?: string | number;
  /** "auto" (default): the first row is a header when any of its fields is not a number. */
  header?: boolean | "auto";
  /** Default: the largest label + 1. */
  numClasses?: number;
  delimiter?: string;
  /** Named in error messages (a file path, usually). */
  source?: string;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
// Spellings of non-finite values: numbers for header detection, but rejected as data.
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

function unquote(field: string): string {
  const trimmed = field.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1).trim() : trimmed;
}

function looksNumeric(field: string): boolean {
  return NUMBER.test(field) || NON_FINITE.test(field);
}

/** The rows of a CSV text, split and unquoted, with the header detected. */
interface Table {
  source: string;
  names: string[] | undefined;
  columns: number;
  /** The first row (header or data): where column-level errors point. */
  first: { line: number; fields: string[] };
  dataRows: { line: number; fields: string[] }[];
}

function readTable(text: string, options: Pick<CsvOptions, "header" | "delimiter" | "source">): Table {
  const { header = "auto", delimiter = ",", source = "csv" } = options;
  if (delimiter.length === 0) throw new OptionsError(`${source}: delimiter must not be empty`);
  if (header !== true && header !== false && header !== "auto") {
    throw new OptionsError(`${source}: header must be true, false or "auto", got ${JSON.stringify(header)}`);
  }
  // Blank lines are skipped wherever they are (as pandas does); line numbers stay those of the file.
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const rows: { line: number; fields: string[] }[] = [];
  lines.forEach((content, i) => {
    if (content.trim() !== "") rows.push({ line: i + 1, fields: content.split(delimiter).map(unquote) });
  });
  const first = rows[0];
  if (first === undefined) throw new DataError(`${source}: empty file, no rows to read`);
  // An empty field is a missing value, not a column name: it must not turn a data row into a header.
  const hasHeader = header === "auto" ? first.fields.some((field) => field !== "" && !looksNumeric(field)) : header;
  const dataRows = hasHeader ? rows.slice(1) : rows;
  if (dataRows.length === 0) throw new DataError(`${source}: no data rows after the header on line ${first.line}`);
  return { source, names: hasHeader ? first.fields : undefined, columns: first.fields.length, first, dataRows };
}

/** Each row's fields as numbers, in order; `onValue` gets (value, field, column, row, where). Errors name line and column. */
function forEachValue(table: Table, onValue: (value: number, field: string, column: number, row: number, where: string) => void): void {
  const { source, names, columns } = table;
  table.dataRows.forEach(({ line, fields }, row) => {
    if (fields.length !== columns) {
      throw new DataError(`${source}: line ${line}: expected ${columns} columns, got ${fields.length}`);
    }
    fields.forEach((field, column) => {
      const where = `${source}: line ${line}, column ${column + 1}${names ? ` ("${names[column]}")` : ""}`;
      if (!NUMBER.test(field)) {
        throw new DataError(NON_FINITE.test(field) ? `${where}: non-finite value "${field}"` : `${where}: "${field}" is not a number`);
      }
      onValue(Number(field), field, column, row, where);
    });
  });
}

function checkFeature(value: number, field: string, where: string): void {
  if (!Number.isFinite(Math.fround(value))) throw new DataError(`${where}: ${field} is too large for float32`);
}

/** Parses numeric CSV text into a Dataset with featureShape [number of feature columns]. */
export function parseCsv(text: string, options: CsvOptions = {}): Dataset {
  const table = readTable(text, options);
  const { source, names, columns, first } = table;
  if (options.numClasses !== undefined && (!Number.isInteger(options.numClasses) || options.numClasses <= 0)) {
    throw new OptionsError(`${source}: numClasses must be a positive integer, got ${options.numClasses}`);
  }
  if (columns < 2) {
    throw new DataError(`${source}: line ${first.line} has ${columns} column; need at least one feature and a label`);
  }
  const labelIndex = resolveLabelColumn(options.labelColumn, names, columns, `${source}: line ${first.line}`);

  const numFeatures = columns - 1;
  const features = new Float32Array(table.dataRows.length * numFeatures);
  const labels = new Int32Array(table.dataRows.length);
  let maxLabel = 0;
  let position = 0;
  forEachValue(table, (value, field, column, row, where) => {
    if (column !== labelIndex) {
      checkFeature(value, field, where);
      features[position++] = value;
      return;
    }
    if (!Number.isInteger(value) || value < 0) {
      throw new DataError(`${where}: label ${field} is not a non-negative integer`);
    }
    if (options.numClasses !== undefined && value >= options.numClasses) {
      throw new DataError(`${where}: label ${field} is out of range [0, ${options.numClasses})`);
    }
    if (value > 0x7fffffff) throw new DataError(`${where}: label ${field} is too large`);
    labels[row] = value;
    maxLabel = Math.max(maxLabel, value);
  });

  const numClasses = options.numClasses ?? maxLabel + 1;
  return createDataset({ features, labels, featureShape: [numFeatures], numClasses }, source);
}

/** Parses numeric CSV text whose every column is a feature (no label column), for prediction. */
export function parseUnlabelledCsv(text: string, options: Pick<CsvOptions, "header" | "delimiter" | "source"> = {}): UnlabelledSamples {
  const table = readTable(text, options);
  const features = new Float32Array(table.dataRows.length * table.columns);
  let position = 0;
  forEachValue(table, (value, field, _column, _row, where) => {
    checkFeature(value, field, where);
    features[position++] = value;
  });
  return { features, featureShape: [table.columns], length: table.dataRows.length };
}

function resolveLabelColumn(
  labelColumn: string | number | undefined,
  names: string[] | undefined,
  columns: number,
  where: string,
): number {
  if (typeof labelColumn === "number") {
    if (!Number.isInteger(labelColumn) || labelColumn < 0 || labelColumn >= columns) {
      throw new DataError(`${where}: labelColumn ${labelColumn} is not a column index in [0, ${columns})`);
    }
    return labelColumn;
  }
  if (typeof labelColumn === "string") {
    if (names === undefined) {
      throw new DataError(
        `${where}: labelColumn "${labelColumn}" is a name but the file has no header row; pass a column index`,
      );
    }
    const index = names.indexOf(labelColumn);
    if (index < 0) {
      throw new DataError(
        `${where}: unknown label column "${labelColumn}"; the header has: ${names.join(", ")}`,
      );
    }
    return index;
  }
  const named = names?.indexOf("label") ?? -1;
  return named >= 0 ? named : columns - 1;
}
