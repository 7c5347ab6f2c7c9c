/**
 * The data settings a state remembers: how its training files were read (CSV
 * header and label column, IDX scale and layout). `update` stores them as
 * `data` in the manifest's data; `evaluate` and `predict` on the state read
 * files with them, so a file is read the same way at every step unless the
 * caller overrides a setting.
 */
import * as z from "zod";
import { StateError } from "../errors.js";
import { stateDataSettingsSchema } from "../data/data_format.js";
import { mergeClassNames } from "../data/label_map.js";
import type { DataFormat } from "./config.js";
import type { ReadFormat } from "./data_files.js";

export { stateDataSettingsSchema };

export type StateDataSettings = z.output<typeof stateDataSettingsSchema>;

/** The columns of a state's training CSV file: its feature names (with a header) and its label column. */
export interface TrainingColumns {
  featureNames?: readonly string[] | undefined;
  labelColumnRead?: { index: number; name?: string | undefined } | undefined;
}

/**
 * The settings to store in a state for data read with `format`; `headerRead` and `delimiterRead` as the
 * training CSV file was read (null: not CSV), `columns` its feature names and label column.
 */
export function stateDataSettings(
  format: DataFormat,
  headerRead: boolean | null = null,
  delimiterRead: string | null = null,
  columns: TrainingColumns = {},
): StateDataSettings {
  const label = columns.labelColumnRead;
  return {
    ...format,
    header: format.header ?? "auto",
    ...(headerRead === null ? {} : { headerRead }),
    ...(delimiterRead === null ? {} : { delimiterRead }),
    ...(columns.featureNames === undefined ? {} : { featureNames: [...columns.featureNames] }),
    ...(label === undefined ? {} : { labelColumnRead: { index: label.index, ...(label.name === undefined ? {} : { name: label.name }) } }),
  };
}

/**
 * The columns a state records after an update whose training file was read as `reading` (null: not CSV), resuming
 * from a state that recorded `stored`: the file's feature names when it had a header (in the model's order, the
 * file's own order put right), else the state's (a file without a header was read by position as the state's);
 * the file's label column, with the state's name for it when this file had no header (both only once there are
 * names: without them every file is read by position). IDX data keeps the state's.
 */
export function trainingColumns(
  reading: { featureNames?: readonly string[]; labelColumn: { index: number; name?: string } | null; columnsReordered?: boolean } | null,
  stored: StateDataSettings | undefined,
): TrainingColumns {
  if (reading === null) return { featureNames: stored?.featureNames, labelColumnRead: stored?.labelColumnRead };
  const label = reading.labelColumn;
  const storedLabel = stored?.labelColumnRead;
  // A file whose columns were put in the model's order by name says nothing of where a header-less file has its
  // label: the layout stays the state's (features in the recorded order, the label where it was). Recording this
  // file's label index with the recorded feature order would describe no file, and read header-less ones wrongly.
  if (reading.columnsReordered === true && storedLabel !== undefined) return { featureNames: stored?.featureNames, labelColumnRead: storedLabel };
  const name = label?.name ?? (storedLabel !== undefined && storedLabel.index === label?.index ? storedLabel.name : undefined);
  const featureNames = reading.featureNames ?? stored?.featureNames;
  // Without names the columns are read by position anyway (label last, or the config's labelColumn): nothing to record.
  if (featureNames === undefined) return {};
  return { featureNames, labelColumnRead: label === null ? undefined : { index: label.index, name } };
}

/**
 * The data settings stored in a state's manifest data (`manifestData.data`),
 * or undefined for a state written without them (by the library directly,
 * or by an older relearn). Invalid settings are a StateError naming `manifestPath`.
 */
export function readStateDataSettings(manifestData: unknown, manifestPath: string): StateDataSettings | undefined {
  const stored = (manifestData as { data?: unknown } | null)?.data;
  if (stored === undefined) return undefined;
  const parsed = stateDataSettingsSchema.safeParse(stored);
  if (!parsed.success) throw new StateError(`${manifestPath}: the data settings ("data") are invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The settings to read a file for a state's model with: the defaults for the
 * model (images as [h, w, 1] for a model taking more than one axis), then the
 * state's remembered settings, then each setting the caller gives. Class names
 * are the state's, or the caller's when they start with the state's (an
 * OptionsError when they name a class index differently).
 *
 * The remembered CSV header is not forced on a new file: that file may differ from the training
 * file (a header there, none here). It is read with "auto", and a line 1 auto cannot settle (plain
 * integers: numbered names or data) is read as the training file's line 1 was. States that did not
 * record `headerRead` fall back to a boolean `header`. A header the caller gives applies as given.
 * Likewise the remembered separator (`delimiterRead`) settles only a file whose separator cannot be
 * detected; a `delimiter` set in the config or by the caller applies as given. The remembered feature
 * names (`featureNames`) make a file with a header read by name (see CsvOptions.featureNames), and the
 * remembered label column (`labelColumnRead`) is where the label is in a file without a header.
 */
export function dataFormatFor(
  inputShape: readonly number[],
  remembered: StateDataSettings | undefined,
  overrides: Partial<DataFormat> | undefined,
): ReadFormat {
  const given = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, value]) => value !== undefined)) as Partial<DataFormat>;
  const base: ReadFormat = { layout: inputShape.length > 1 ? "hwc" : "flat" };
  if (remembered !== undefined) {
    const { headerRead, header, delimiterRead, labelColumnRead, ...rest } = remembered;
    const fallback = headerRead ?? (typeof header === "boolean" ? header : undefined);
    Object.assign(base, rest, { header: "auto" }, fallback === undefined ? {} : { headerFallback: fallback });
    if (delimiterRead !== undefined && rest.delimiter === undefined) base.delimiterFallback = delimiterRead;
    if (labelColumnRead !== undefined) base.labelColumnFallback = labelColumnRead;
  }
  if (given.header !== undefined) {
    delete base.headerFallback;
    base.headerSource = "--header or the config's data.header";
  }
  if (given.delimiter !== undefined) delete base.delimiterFallback;
  // Class names are the state's: a caller's list may only add names after them (mergeClassNames).
  const classNames = mergeClassNames(remembered?.classNames, given.classNames, { stored: "the state", given: "the config's \"data.classNames\"" });
  return { ...base, ...given, ...(classNames === undefined ? {} : { classNames }) };
}
