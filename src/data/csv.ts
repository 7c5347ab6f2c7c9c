/**
 * CSV to Dataset: one sample per line, one label column (class indices 0..C-1,
 * or class names mapped to indices through a list, see label_map.ts), every
 * other column a numeric feature. No quoting rules beyond stripping quotes
 * around a field: a file of numbers does not need them.
 *
 * Whether line 1 is a header is the one guess here, and a wrong guess loses
 * or adds a row without any error. pandas names the columns of a frame built
 * from an array 0, 1, ..., n-1 and writes them as line 1, so a first row of
 * numbers is not proof of data. "auto" therefore guesses only where a header
 * and data cannot be confused, and asks for `header` where they can.
 */
import { DataError, OptionsError } from "../errors.js";
import { createDataset, type Dataset, type UnlabelledSamples } from "./dataset.js";
import { checkClassNamesFit, extendLabelMap, shownClassNames } from "./label_map.js";
import { delimiterHint, detectDelimiter, type DelimiterRule } from "./csv_dialect.js";

/** Options of `parseCsv`. */
export interface CsvOptions {
  /** Column name (needs a header) or 0-based index. Default: the column named "label", else the last one. */
  labelColumn?: string | number;
  /**
   * Class names: with them, every label is a name and becomes its index in this list ("cat" is class 0 in
   * ["cat", "dog"]); a label not in the list is a DataError (unless `newClassNames` is "add"). Without them,
   * labels are integers 0..C-1 (a name is then a DataError, unless `newClassNames` is "add").
   */
  classNames?: readonly string[];
  /**
   * Labels that are names not in `classNames` (or names at all, without `classNames`): "error" (default), or
   * "add" them after the known names in sorted order (label_map.ts's extendLabelMap); the list used is
   * `CsvInfo.classNames`. A label column holding both numbers and names is a DataError when there is no list.
   */
  newClassNames?: "error" | "add";
  /**
   * Whether line 1 is a header row. "auto" (default) reads line 1 as a header when a field is not a
   * number (`a,b,label`, `0,1,2,label`) or when it is exactly 0,1,...,n-1 with n >= 2 (pandas'
   * column names for a frame without names); as data when it holds numbers that cannot be column
   * numbers (a decimal, a sign, an exponent, a repeat or a decrease). A row that could be either (other increasing
   * non-negative integers, e.g. `0,1,3,4` after pandas dropped a column, or a lone `0`) is a DataError
   * asking for `header: true` or `false`.
   */
  header?: CsvHeader;
  /**
   * With header "auto": the decision for a line 1 that auto cannot settle from the line alone (it could be a
   * header of numbered columns or data, including pandas' 0,1,...,n-1), usually how the state's training file
   * was read. A line with names is still a header, and a line that is plainly data still data.
   */
  headerFallback?: boolean;
  /** Where `header` came from, for errors (e.g. "--header or the config's data.header"). Default "the header setting". */
  headerSource?: string;
  /** Default: the largest label + 1, or the number of class names. More class names than this is a DataError. */
  numClasses?: number;
  /**
   * The output count of the model the data is for, when labels are not bounded by it (`numClasses` unset: an update
   * that may grow the model). Used in messages only: a name not in `classNames` is then told that the model has
   * unnamed outputs it can take.
   */
  modelOutputs?: number;
  /**
   * The field separator, one character. Default: detected from the lines among ',' ';' tab '|' (see
   * detectDelimiter); a file where it cannot be told is a DataError asking for `delimiter`.
   */
  delimiter?: string;
  /** Without `delimiter`: the separator for a file whose lines could be read with several (how the state's training file was read). */
  delimiterFallback?: string;
  /**
   * The header names of the feature columns, in the order the samples take them: the training file's
   * (`CsvInfo.featureNames`), as a state records them. A file with a header then has its features taken by
   * name, never by position: the same names in another order are put in this order (`CsvInfo.columnsReordered`),
   * and a name missing, not in the list or written twice is a DataError naming it. With header "auto" they also
   * settle a line 1 of increasing whole numbers: a header when it holds these names, else a row of data (it is
   * not the training file's header). A file without a header is read by position.
   */
  featureNames?: readonly string[];
  /**
   * The training file's label column (index, and its header name if it had one), as a state records it. In a
   * file with a header and no `labelColumn` set, the column of that name is the label (before "label" and the
   * last column); in a file without a header, the label is at that index when `labelColumn` is not set or is
   * that name: a label found by name in the middle of the training file is never read as a feature.
   */
  labelColumnFallback?: { index: number; name?: string | undefined };
  /** Named in error messages (a file path, usually). */
  source?: string;
}

/** The header setting of a CSV reader: true, false, or "auto" (see CsvOptions.header). */
export type CsvHeader = boolean | "auto";

/**
 * Why line 1 was or was not read as a header: "setting" (header true or false was given),
 * or what "auto" saw: "names" (a field that is not a number), "column-numbers" (0,1,...,n-1,
 * as pandas writes them, above rows that are not all integers), "numbers" (a row of data), or
 * "remembered" (line 1 could be either and `headerFallback` decided), or "feature-names" (line 1 could be
 * either and `featureNames` decided: a header when it holds those names, else data).
 */
export type CsvHeaderRule = "setting" | "names" | "column-numbers" | "numbers" | "remembered" | "feature-names";

/** How a CSV text was read, for summaries: the rows, whether line 1 was a header, the label column. */
export interface CsvInfo {
  source: string;
  /** Data rows read (= samples). */
  rows: number;
  columns: number;
  /** True when line 1 was read as a header row (and not as a sample). */
  header: boolean;
  headerRule: CsvHeaderRule;
  /** 0-based index and header name (when there is a header) of the label column; null for unlabelled reads. */
  labelColumn: { index: number; name?: string } | null;
  /** With a header: the names of the feature columns, in the order the samples hold them. */
  featureNames?: string[];
  /** True (else absent) when the feature columns were put in the order of `CsvOptions.featureNames` by name. */
  columnsReordered?: true;
  /** When the labels were read as names: the class names, in index order (those given, then any added). */
  classNames?: string[];
  /** The field separator the file was read with, and whether it was given, detected or remembered. */
  delimiter: string;
  delimiterRule: DelimiterRule;
  /**
   * What looks wrong but was read anyway (only present when there is something): another separator
   * on line 1 than the one given, or a first column without a name (pandas' index column, read as a feature).
   */
  warnings?: string[];
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

/**
 * A row no one would write as a header: every field a number and at least one with a decimal point,
 * an exponent or a sign (column names, even numbered ones, are plain integers).
 */
function plainlyData(fields: string[]): boolean {
  return fields.every((field) => NUMBER.test(field)) && fields.some((field) => /[.eE+-]/.test(field));
}

const shownRow = (fields: string[]) => (fields.length > 8 ? `${fields.slice(0, 8).join(",")},...` : fields.join(","));

/**
 * "auto": whether the first row is a header, and why. A row that may be either is settled by
 * `fallback` (how the training file was read) when there is one; without one it is a DataError:
 * guessing wrong would silently add or drop a sample.
 */
function detectHeader(
  first: { line: number; fields: string[] },
  rest: { fields: string[] }[],
  fallback: boolean | undefined,
  featureNames: readonly string[] | undefined,
  source: string,
): { header: boolean; rule: CsvHeaderRule } {
  const { fields, line } = first;
  // An empty field is a missing value, not a column name: it must not turn a data row into a header.
  if (fields.some((field) => field !== "" && !looksNumeric(field))) return { header: true, rule: "names" };
  // pandas' header of a frame written with its index: an empty name, then 0,1,...,k-1 (a data row with an empty field is unreadable anyway).
  if (fields.length >= 2 && fields[0] === "" && fields.slice(1).every((field, i) => field === String(i))) return { header: true, rule: "column-numbers" };
  // Column numbers are written as plain non-negative integers in increasing order; anything else is data.
  if (!fields.every((field) => /^\d+$/.test(field))) return { header: false, rule: "numbers" };
  const values = fields.map(Number);
  if (values.some((value, i) => i > 0 && value <= values[i - 1]!)) return { header: false, rule: "numbers" };
  if (values.length === 1 && values[0] !== 0) return { header: false, rule: "numbers" };
  // 0,1,...,n-1 is pandas' header only when the rows below do not look the same: above rows of plain
  // integers (`0,1` then `2,1`) it is as likely a row of data.
  const integersBelow = rest.every((row) => row.fields.every((field) => /^\d+$/.test(field)));
  if (values.length >= 2 && values.every((value, i) => value === i) && !integersBelow) return { header: true, rule: "column-numbers" };
  // Only what the rules above cannot decide (increasing plain integers) is read as the training file's line 1
  // was: a remembered decision must never overrule a line that is plainly data or plainly pandas' header.
  // The training file's column names decide best: a line that is not them (a label's name at most added) is no
  // header this file could be read with, so it is data; reading it as a header would drop a sample unsaid.
  if (featureNames !== undefined) {
    const isNames = fields.length <= featureNames.length + 1 && featureNames.every((name) => fields.includes(name));
    return { header: isNames, rule: "feature-names" };
  }
  if (fallback !== undefined) return { header: fallback, rule: "remembered" };
  throw new DataError(
    `${source}: line ${line} (${shownRow(fields)}) could be a header of numbered columns or a row of data: set header true ` +
      `(line ${line} is a header) or false (line ${line} is data), in the config's "data.header" or with --header`,
  );
}

/**
 * A lone CR (no LF after it) ends lines in files from classic Mac OS and some
 * exporters; split on LF alone, the whole file would be one line of garbled fields.
 */
function checkLineEnds(text: string, source: string): void {
  const lone = /\r(?!\n)/.exec(text);
  if (lone === null) return;
  const line = text.slice(0, lone.index).split("\n").length;
  throw new DataError(
    `${source}: line ${line} ends with a lone carriage return (CR, old Mac line ends): lines must end in LF or CRLF; ` +
      `convert the file, e.g. \`tr '\\r' '\\n' < in.csv > out.csv\` or \`mac2unix\`, or save it again as "CSV UTF-8"`,
  );
}

/** The rows of a CSV text, split and unquoted, with the header detected. */
interface Table {
  source: string;
  names: string[] | undefined;
  headerRule: CsvHeaderRule;
  columns: number;
  /** The first row (header or data): where column-level errors point. */
  first: { line: number; fields: string[] };
  dataRows: { line: number; fields: string[] }[];
  /** Line 1 as written (for the separator hint). */
  firstText: string;
  delimiter: string;
  delimiterRule: DelimiterRule;
  /** The expected feature names (CsvOptions.featureNames), if any. */
  featureNames: readonly string[] | undefined;
}

/** The options that decide which rows are read: shared by the labelled and the unlabelled reader. */
export type CsvRowOptions = Pick<CsvOptions, "header" | "headerFallback" | "headerSource" | "delimiter" | "delimiterFallback" | "featureNames" | "source">;

function readTable(text: string, options: CsvRowOptions): Table {
  const { header = "auto", source = "csv" } = options;
  if (options.delimiter !== undefined && options.delimiter.length !== 1) {
    throw new OptionsError(`${source}: delimiter must be one character (e.g. ",", ";", "\\t"), got ${JSON.stringify(options.delimiter)}`);
  }
  if (header !== true && header !== false && header !== "auto") {
    throw new OptionsError(`${source}: header must be true, false or "auto", got ${JSON.stringify(header)}`);
  }
  checkLineEnds(text, source);
  // Blank lines are skipped wherever they are (as pandas does); line numbers stay those of the file.
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const filled = lines.flatMap((content, i) => (content.trim() === "" ? [] : [{ line: i + 1, content }]));
  const { delimiter, rule: delimiterRule } =
    options.delimiter !== undefined
      ? { delimiter: options.delimiter, rule: "setting" as const }
      : detectDelimiter(filled.map(({ content }) => content), source, options.delimiterFallback);
  const rows = filled.map(({ line, content }) => ({ line, fields: content.split(delimiter).map(unquote) }));
  const firstText = filled[0]?.content ?? "";
  const first = rows[0];
  if (first === undefined) throw new DataError(`${source}: empty file, no rows to read`);
  if (header === true && plainlyData(first.fields)) {
    throw new DataError(
      `${source}: line ${first.line} (${shownRow(first.fields)}) is a row of numbers, not a header, but header is true ` +
        `(${options.headerSource ?? "the header setting"}): set header false or auto (--header false) to read it as data`,
    );
  }
  const detected = header === "auto" ? detectHeader(first, rows.slice(1), options.headerFallback, options.featureNames, source) : { header, rule: "setting" as const };
  const dataRows = detected.header ? rows.slice(1) : rows;
  if (dataRows.length === 0) throw new DataError(`${source}: no data rows after the header on line ${first.line}`);
  return {
    source, names: detected.header ? first.fields : undefined, headerRule: detected.rule, columns: first.fields.length, first, dataRows, firstText,
    delimiter, delimiterRule, featureNames: options.featureNames,
  };
}

/** A hint when line 1 holds another separator than the one read with (see delimiterHint); else "". */
function separatorHint(table: Table): string {
  return delimiterHint(table.firstText, table.delimiter);
}

/** The warning (CsvInfo.warnings) for a header whose first name is empty, as pandas writes its index column. */
export const UNNAMED_FIRST_COLUMN = "the first column has no name: a pandas index? write with index=False or drop it; it is read as a feature";

function tableWarnings(table: Table, labelIndex: number | null): string[] {
  const warnings: string[] = [];
  // Detected separators were chosen because the lines agree; a given one may be the wrong one.
  const separator = table.delimiterRule === "setting" ? separatorHint(table) : "";
  if (separator !== "") warnings.push(separator);
  if (table.names?.[0] === "" && labelIndex !== 0) {
    warnings.push(UNNAMED_FIRST_COLUMN);
  }
  return warnings;
}

function csvInfo(table: Table, labelIndex: number | null, features: FeatureColumns): CsvInfo {
  const name = labelIndex === null ? undefined : table.names?.[labelIndex];
  const warnings = tableWarnings(table, labelIndex);
  const names = table.names;
  return {
    ...(names === undefined ? {} : { featureNames: features.columns.map((column) => names[column]!) }),
    ...(features.reordered ? { columnsReordered: true as const } : {}),
    ...(warnings.length === 0 ? {} : { warnings }),
    source: table.source,
    rows: table.dataRows.length,
    columns: table.columns,
    header: table.names !== undefined,
    headerRule: table.headerRule,
    delimiter: table.delimiter,
    delimiterRule: table.delimiterRule,
    labelColumn: labelIndex === null ? null : { index: labelIndex, ...(name === undefined ? {} : { name }) },
  };
}

/**
 * A column as the label column is described in summaries and messages: `column 5 ("target", index 4)`, or
 * `column 5 (index 4)` without a header. Positions count from 1, as line numbers (and editors) do; the index is
 * 0-based, as `--label-column` and "data.labelColumn" take it, so a user can pass what the message shows (tester G, F4).
 */
export function describeColumn(index: number, name?: string): string {
  return `column ${index + 1} (${name === undefined ? "" : `${JSON.stringify(name)}, `}index ${index})`;
}

/** Where a field is, for errors: the file, line and column (with its header name). */
function fieldWhere(table: Table, line: number, column: number): string {
  return `${table.source}: line ${line}, column ${column + 1}${table.names ? ` ("${table.names[column]}")` : ""}`;
}

/**
 * Each row's fields as numbers, in order; `onValue` gets (value, field, column, row, where). The field of
 * `textColumn` (the label column) is passed as written to `onText` instead. Errors name line and column.
 */
function forEachValue(
  table: Table,
  onValue: (value: number, field: string, column: number, row: number, where: string) => void,
  text?: { column: number; onText: (field: string, row: number) => void },
): void {
  const { source, columns } = table;
  table.dataRows.forEach(({ line, fields }, row) => {
    if (fields.length !== columns) {
      throw new DataError(`${source}: line ${line}: expected ${columns} columns, got ${fields.length}`);
    }
    fields.forEach((field, column) => {
      if (column === text?.column) return text.onText(field, row);
      const where = fieldWhere(table, line, column);
      if (!NUMBER.test(field)) {
        const hint = separatorHint(table);
        throw new DataError(NON_FINITE.test(field) ? `${where}: non-finite value "${field}"` : `${where}: "${field}" is not a number${hint === "" ? "" : `; ${hint}`}`);
      }
      onValue(Number(field), field, column, row, where);
    });
  });
}

function checkFeature(value: number, field: string, where: string): void {
  if (!Number.isFinite(Math.fround(value))) throw new DataError(`${where}: ${field} is too large for float32`);
}

/** Parses CSV text into a Dataset with featureShape [number of feature columns]. */
export function parseCsv(text: string, options: CsvOptions = {}): Dataset {
  return parseCsvWithInfo(text, options).dataset;
}

/** The file's feature columns in the order the samples take them, and whether that is not the file's order. */
interface FeatureColumns {
  columns: number[];
  reordered: boolean;
}

const shownNames = (names: readonly string[]) =>
  names.length > 10 ? `${names.slice(0, 10).map((name) => JSON.stringify(name)).join(", ")}, ... (${names.length})` : names.map((name) => JSON.stringify(name)).join(", ");

/**
 * Every column but the label's, in the file's order; with `featureNames` and a header, the columns of those names
 * in that order instead: a model's inputs are its training file's columns, whatever order a later file lists them
 * in. A name missing, not in the list or written twice is a DataError naming it (reading on would feed the model
 * the wrong columns without a word).
 */
function featureColumnsOf(table: Table, labelIndex: number | null): FeatureColumns {
  const inFile = Array.from({ length: table.columns }, (_, column) => column).filter((column) => column !== labelIndex);
  const expected = table.featureNames;
  const header = table.names;
  if (expected === undefined || header === undefined) return { columns: inFile, reordered: false };
  const names = inFile.map((column) => header[column]!);
  if (names.length === expected.length && names.every((name, i) => name === expected[i])) return { columns: inFile, reordered: false };
  const missing = expected.filter((name) => !names.includes(name));
  const extra = names.filter((name) => !expected.includes(name));
  const twice = [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
  if (missing.length === 0 && extra.length === 0 && twice.length === 0 && new Set(expected).size === expected.length) {
    return { columns: expected.map((name) => inFile[names.indexOf(name)]!), reordered: true };
  }
  const problems = [
    ...(missing.length > 0 ? [`missing ${shownNames(missing)}`] : []),
    ...(extra.length > 0 ? [`not in the training file ${shownNames(extra)}`] : []),
    ...(twice.length > 0 ? [`named twice ${shownNames(twice)}`] : []),
  ];
  const label = labelIndex === null ? "" : ` (every column but the label's, ${describeColumn(labelIndex, header[labelIndex])})`;
  throw new DataError(
    `${table.source}: line ${table.first.line}: the header's feature columns${label} are not the training file's: ${problems.join("; ")}. ` +
      `The model takes the columns ${shownNames(expected)} (their order in the file may differ): rename or select the columns to match`,
  );
}

/** The features of a table (`features.columns`, in that order) and the fields of `labelIndex` as written. */
function readTableValues(table: Table, labelIndex: number | null, features: FeatureColumns): { features: Float32Array; labelFields: string[] } {
  const numFeatures = features.columns.length;
  const values = new Float32Array(table.dataRows.length * numFeatures);
  const labelFields = new Array<string>(labelIndex === null ? 0 : table.dataRows.length);
  // Where each column's value goes in a sample: its place among the features (the label column has none).
  const slot = new Int32Array(table.columns).fill(-1);
  features.columns.forEach((column, k) => (slot[column] = k));
  forEachValue(
    table,
    (value, field, column, row, where) => {
      checkFeature(value, field, where);
      values[row * numFeatures + slot[column]!] = value;
    },
    labelIndex === null ? undefined : { column: labelIndex, onText: (field, row) => (labelFields[row] = field) },
  );
  return { features: values, labelFields };
}

/** How the label column was found: the setting, by a name ("label" or the training file's), the training file's index, or the last. */
type LabelColumnWhy = "setting" | "named" | "training" | "last";

/**
 * The label column of a table with at least one feature: resolved, or a DataError naming the setting. With
 * `labelsRead` (evaluate, update), a header without the training file's label column name is a DataError unless the
 * column taken instead is named "label".
 */
function labelColumnOf(table: Table, options: CsvOptions, labelsRead = true): { index: number; why: LabelColumnWhy } {
  const { source, columns, first } = table;
  if (columns < 2) {
    const hint = separatorHint(table);
    throw new DataError(`${source}: line ${first.line} has ${columns} column; need at least one feature and a label${hint === "" ? "" : `; ${hint}`}`);
  }
  const where = `${source}: line ${first.line}`;
  const fallback = options.labelColumnFallback;
  const { labelColumn } = options;
  // (A fallback on the last column is the default anyway, and reads as such in messages.)
  const fallbackApplies = fallback !== undefined && fallback.index < columns && !(labelColumn === undefined && fallback.index === columns - 1);
  if (fallbackApplies && table.names === undefined && (labelColumn === undefined || labelColumn === fallback.name)) {
    return { index: fallback.index, why: "training" };
  }
  if (labelColumn !== undefined) return { index: resolveLabelColumn(labelColumn, table.names, columns, where), why: "setting" };
  const trainingName = fallback?.name === undefined ? -1 : (table.names?.indexOf(fallback.name) ?? -1);
  if (trainingName >= 0) return { index: trainingName, why: "named" };
  const index = resolveLabelColumn(undefined, table.names, columns, where);
  // The training file's label column by name is not there, and the column that would be taken has another name (an
  // id, a renamed target): taking it may read ids as labels and answer wrongly without a word. The user says which.
  // (Data to predict on drops that column unread: the features are found by name, so nothing is misread.)
  if (labelsRead && fallback?.name !== undefined && table.names !== undefined && table.names[index] !== "label" && options.featureNames !== undefined) {
    throw new DataError(
      `${where}: the header has no column "${fallback.name}", the training file's label column; the column that would be taken instead is ` +
        `${describeColumn(index, table.names[index])}: if it holds the labels, pass --label-column "${table.names[index]}" (or set "data.labelColumn" in the config), ` +
        `or rename it to "${fallback.name}"`,
    );
  }
  return { index, why: table.names?.[index] === "label" ? "named" : "last" };
}

/** As `parseCsv`, and how the text was read (rows, header, label column, class names). */
export function parseCsvWithInfo(text: string, options: CsvOptions = {}): { dataset: Dataset; info: CsvInfo } {
  const table = readTable(text, options);
  const { source } = table;
  if (options.numClasses !== undefined && (!Number.isInteger(options.numClasses) || options.numClasses <= 0)) {
    throw new OptionsError(`${source}: numClasses must be a positive integer, got ${options.numClasses}`);
  }
  const { index: labelIndex, why } = labelColumnOf(table, options);
  const columns = featureColumnsOf(table, labelIndex);
  const { features, labelFields } = readTableValues(table, labelIndex, columns);
  const where = (row: number) => fieldWhere(table, table.dataRows[row]!.line, labelIndex);
  // A label that is no class index in a column relearn picked by itself may be a feature: say how the column was picked.
  const note = why === "setting" ? "" : `; ${defaultLabelColumnNote(table, labelIndex, why)}`;
  const read = classLabels(labelFields, options, where, source, note);
  const info = { ...csvInfo(table, labelIndex, columns), ...(read.classNames === undefined ? {} : { classNames: read.classNames }) };
  return { dataset: createDataset({ features, labels: read.labels, featureShape: [table.columns - 1], numClasses: read.numClasses }, source), info };
}

/**
 * CSV text to predict on, for a model of `inputs` features: every column is a feature, except in a file with
 * exactly one column more (and no unnamed first column, pandas' index, which the shape error should name): that
 * is the label column (chosen as for training), dropped unread, so its labels may be names, numbers or missing.
 */
export function parsePredictionCsvWithInfo(
  text: string,
  options: CsvRowOptions & Pick<CsvOptions, "labelColumn" | "labelColumnFallback"> & { inputs: number },
): { samples: UnlabelledSamples; info: CsvInfo } {
  const table = readTable(text, options);
  // A header with the training file's label column by name and other columns besides: that column is dropped unread
  // too, and the rest must be the features (featureColumnsOf names any other column, not the label, tester G F3).
  const trainingLabel = options.labelColumnFallback?.name;
  const namedLabel = table.names !== undefined && trainingLabel !== undefined && options.featureNames !== undefined ? table.names.indexOf(trainingLabel) : -1;
  if (namedLabel >= 0 && table.columns !== options.inputs + 1) {
    const columns = featureColumnsOf(table, namedLabel);
    const { features } = readTableValues(table, namedLabel, columns);
    return { samples: { features, featureShape: [columns.columns.length], length: table.dataRows.length }, info: csvInfo(table, namedLabel, columns) };
  }
  if (table.columns !== options.inputs + 1 || table.names?.[0] === "") return unlabelledTable(table);
  const { index: labelIndex } = labelColumnOf(table, options, false);
  const columns = featureColumnsOf(table, labelIndex);
  const { features } = readTableValues(table, labelIndex, columns);
  return { samples: { features, featureShape: [table.columns - 1], length: table.dataRows.length }, info: csvInfo(table, labelIndex, columns) };
}

/** How the default label column was chosen, and the setting that chooses another. */
function defaultLabelColumnNote(table: Table, labelIndex: number, how: LabelColumnWhy): string {
  const column = describeColumn(labelIndex, table.names?.[labelIndex]);
  const why =
    how === "named"
      ? `the column named "${table.names?.[labelIndex]}"`
      : how === "training"
        ? `${column}, the training file's label column (the file has no header)`
        : `the last column, ${column}, as ${table.names ? "the header has no column named \"label\"" : "the file has no header"}`;
  return `the labels were read from ${why}: if the labels are in another column, pass --label-column (its name or 0-based index) or set "data.labelColumn" in the config`;
}

const NAMES_HINT =
  `list the class names in the config's "data.classNames" (e.g. ["cat", "dog"]: the first is class 0), ` +
  "or start a new state from this file: its first update maps the names it finds, sorted, to classes 0, 1, ...";

/**
 * Class indices from label fields as written: through `options.classNames` (or names added to it), or as
 * integers when there is no list and no field is a name. `where(row)` names a field in errors.
 */
function classLabels(
  fields: readonly string[],
  options: CsvOptions,
  where: (row: number) => string,
  source: string,
  columnNote: string,
): { labels: Int32Array; numClasses: number; classNames?: string[] } {
  const emptyRow = fields.findIndex((field) => field === "");
  if (emptyRow >= 0) throw new DataError(`${where(emptyRow)}: the label is missing (an empty field)`);
  const firstName = fields.findIndex((field) => !NUMBER.test(field) && !NON_FINITE.test(field));
  if (options.classNames === undefined && firstName < 0) {
    try {
      return integerLabels(fields, options, where);
    } catch (error) {
      throw error instanceof DataError ? new DataError(`${error.message}${columnNote}`, { cause: error }) : error;
    }
  }
  const nameRow = Math.max(firstName, 0);
  if (options.classNames === undefined && options.newClassNames !== "add") {
    throw new DataError(`${where(nameRow)}: label ${JSON.stringify(fields[nameRow])} is not a number and no class names are set: ${NAMES_HINT}${columnNote}`);
  }
  if (options.classNames === undefined) {
    // Building a list from the data: a column of names with a number in it is more likely a mistake than a class "3".
    const numberRow = fields.findIndex((field) => NUMBER.test(field) || NON_FINITE.test(field));
    if (numberRow >= 0) {
      throw new DataError(
        `${where(numberRow)}: label ${JSON.stringify(fields[numberRow])} is a number, but ${where(nameRow).replace(`${source}: `, "")} is the name ` +
          `${JSON.stringify(fields[nameRow])}: a label column holds class indices or class names, not both; fix the labels, or list every class name ` +
          `(numbers too) in the config's "data.classNames"`,
      );
    }
  }
  const given = options.classNames ?? [];
  const classNames = options.newClassNames === "add" ? extendLabelMap(given, fields) : [...given];
  const index = new Map(classNames.map((name, i) => [name, i]));
  const labels = new Int32Array(fields.length);
  fields.forEach((field, row) => {
    const label = index.get(field);
    if (label === undefined) {
      const outputs = options.numClasses ?? options.modelOutputs ?? classNames.length;
      // A model made with more outputs than names (init --classes 3, data naming 2) has room: say so, or the user is
      // told to grow a model that need not grow.
      const remedy =
        outputs > classNames.length
          ? `the model has ${outputs} outputs and only ${classNames.length} are named: fix the label, or give it a free output by ` +
            `listing it after the others in the config's "data.classNames" (${shownClassNames([...classNames, field])}), or with ` +
            `"options.growClasses": true (CLI --grow-classes), which names the free outputs first and grows the output layer only when none is left`
          : `fix the label, or, for a new class, let the model grow an output for it: "options.growClasses": true in the config (CLI --grow-classes)`;
      throw new DataError(
        `${where(row)}: label ${JSON.stringify(field)} is not one of the ${classNames.length} ${outputs > classNames.length ? "named " : ""}classes (${shownClassNames(classNames)}): ${remedy}`,
      );
    }
    labels[row] = label;
  });
  checkClassNamesFit(classNames, options.numClasses ?? classNames.length, source);
  return { labels, numClasses: options.numClasses ?? classNames.length, classNames };
}

/** Labels written as class indices: non-negative integers below `options.numClasses` (when given). */
function integerLabels(fields: readonly string[], options: CsvOptions, where: (row: number) => string): { labels: Int32Array; numClasses: number } {
  const labels = new Int32Array(fields.length);
  let maxLabel = 0;
  fields.forEach((field, row) => {
    if (NON_FINITE.test(field)) throw new DataError(`${where(row)}: non-finite value "${field}"`);
    const value = Number(field);
    if (!Number.isInteger(value) || value < 0) {
      throw new DataError(`${where(row)}: label ${field} is not a non-negative integer`);
    }
    if (options.numClasses !== undefined && value >= options.numClasses) {
      throw new DataError(`${where(row)}: label ${field} is out of range [0, ${options.numClasses})`);
    }
    if (value > 0x7fffffff) throw new DataError(`${where(row)}: label ${field} is too large`);
    labels[row] = value;
    maxLabel = Math.max(maxLabel, value);
  });
  return { labels, numClasses: options.numClasses ?? maxLabel + 1 };
}

/** Parses numeric CSV text whose every column is a feature (no label column), for prediction. */
export function parseUnlabelledCsv(text: string, options: CsvRowOptions = {}): UnlabelledSamples {
  return parseUnlabelledCsvWithInfo(text, options).samples;
}

/** As `parseUnlabelledCsv`, and how the text was read (rows, header). */
export function parseUnlabelledCsvWithInfo(
  text: string,
  options: CsvRowOptions = {},
): { samples: UnlabelledSamples; info: CsvInfo } {
  return unlabelledTable(readTable(text, options));
}

function unlabelledTable(table: Table): { samples: UnlabelledSamples; info: CsvInfo } {
  const columns = featureColumnsOf(table, null);
  const { features } = readTableValues(table, null, columns);
  return { samples: { features, featureShape: [table.columns], length: table.dataRows.length }, info: csvInfo(table, null, columns) };
}

function resolveLabelColumn(
  labelColumn: string | number | undefined,
  names: string[] | undefined,
  columns: number,
  where: string,
): number {
  if (typeof labelColumn === "number") {
    if (!Number.isInteger(labelColumn) || labelColumn < 0 || labelColumn >= columns) {
      throw new DataError(`${where}: labelColumn ${labelColumn} (--label-column, or the config's "data.labelColumn") is not a 0-based column index in [0, ${columns})`);
    }
    return labelColumn;
  }
  if (typeof labelColumn === "string") {
    if (names === undefined) {
      throw new DataError(
        `${where}: labelColumn "${labelColumn}" (--label-column, or the config's "data.labelColumn") is a name but the file has no header row; give a 0-based column index instead`,
      );
    }
    const index = names.indexOf(labelColumn);
    if (index < 0) {
      throw new DataError(
        `${where}: unknown label column "${labelColumn}" (--label-column, or the config's "data.labelColumn"); the header has: ${names.join(", ")}`,
      );
    }
    return index;
  }
  const named = names?.indexOf("label") ?? -1;
  return named >= 0 ? named : columns - 1;
}
