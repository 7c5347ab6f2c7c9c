/**
 * The data settings a state remembers: how its training files were read (CSV
 * header and label column, IDX scale and layout). `update` stores them as
 * `data` in the manifest's data; `evaluate` and `predict` on the state read
 * files with them, so a file is read the same way at every step unless the
 * caller overrides a setting.
 */
import { z } from "zod";
import { StateError } from "../errors.js";
import { dataFormatSchema, type DataFormat } from "./config.js";

/** Schema of the `data` object in a state manifest's data: a config's data section, header written out. */
export const stateDataSettingsSchema = dataFormatSchema.extend({ header: z.union([z.boolean(), z.literal("auto")]) });

/** The settings to store in a state for data read with `format`: every setting explicit. */
export function stateDataSettings(format: DataFormat): z.output<typeof stateDataSettingsSchema> {
  return { ...format, header: format.header ?? "auto" };
}

/**
 * The data settings stored in a state's manifest data (`manifestData.data`),
 * or undefined for a state written without them (by the library directly,
 * or by an older relearn). Invalid settings are a StateError naming `manifestPath`.
 */
export function readStateDataSettings(manifestData: unknown, manifestPath: string): DataFormat | undefined {
  const stored = (manifestData as { data?: unknown } | null)?.data;
  if (stored === undefined) return undefined;
  const parsed = stateDataSettingsSchema.safeParse(stored);
  if (!parsed.success) throw new StateError(`${manifestPath}: the data settings ("data") are invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The settings to read a file for a state's model with: the defaults for the
 * model (images as [h, w, 1] for a model taking more than one axis), then the
 * state's remembered settings, then each setting the caller gives.
 */
export function dataFormatFor(
  inputShape: readonly number[],
  remembered: DataFormat | undefined,
  overrides: Partial<DataFormat> | undefined,
): DataFormat {
  const given = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, value]) => value !== undefined));
  return { layout: inputShape.length > 1 ? "hwc" : "flat", ...remembered, ...given };
}
