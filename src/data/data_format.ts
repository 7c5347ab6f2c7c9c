/**
 * How data files are read (CSV header and label column, IDX scale and
 * layout), as a config's data section and as a state remembers it. Here, below
 * the updaters and the workflow, so that every reader of a state (the library's
 * updaters included) checks the remembered settings with the same schema.
 */
import * as z from "zod";
import { validClassNames } from "./label_map.js";

/**
 * How data files are read: CSV (a label column + numeric features) or IDX
 * (images + labels files). A state remembers the settings it was trained with
 * (see state_data.ts), so evaluate and predict read files the same way.
 */
export const dataFormatSchema = z.strictObject({
  /**
   * What the data files are: "csv" (delimited text), "idx" (images + labels files), or "auto" (the default): told
   * from the content (IDX magic number or text; a gzip'd file by what is inside), never from the file's name.
   */
  format: z.enum(["auto", "csv", "idx"]).optional(),
  /**
   * The field separator of CSV files, one character (",", ";", "\t", "|", ...). Default: detected from the
   * lines among , ; tab |; an error asks for it when the lines could be read with several.
   */
  delimiter: z.string().length(1, 'delimiter must be one character, e.g. ",", ";" or "\t" for tab').optional(),
  /**
   * Whether line 1 of a CSV file is a header row: true, false, or "auto" (the default): a header when a field is
   * not a number or the fields are 0,1,...,n-1 (pandas' default column names); an error when it could be either.
   */
  header: z.union([z.boolean(), z.literal("auto")]).optional(),
  /** Column name or 0-based index of the label in CSV files; default the column named "label", else the last. */
  labelColumn: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
  /**
   * Class names in index order ("cat" is class 0 in ["cat", "dog"]): CSV labels are then these names. Leave it out and
   * labels are class indices 0..C-1, or, when they are names, the first update of a state lists them sorted (by code
   * unit: "B" before "a"). The state keeps the list; a config's list must agree with the state's (it may add names at the end).
   */
  classNames: z
    .array(z.string().trim().min(1, "a class name must not be empty"))
    .min(1)
    .refine(validClassNames, "class names must be distinct")
    .optional(),
  /** Pixel scale for IDX images (default 1/255). */
  scale: z.number().positive().optional(),
  /** IDX images as flat vectors or [h, w, 1] (for CNN specs). */
  layout: z.enum(["flat", "hwc"]).default("flat"),
});

/**
 * Schema of the `data` object in a state manifest's data: a config's data section, header written out
 * as given, `headerRead`: whether line 1 of the training CSV file was read as a header (how "auto"
 * resolved; absent for IDX data and in states written before relearn remembered it), and
 * `delimiterRead`: the separator the training CSV file was read with (likewise), `featureNames`: the header
 * names of the training CSV file's feature columns in the model's input order (absent when it had no header,
 * and in states written before relearn recorded them: later files are then read by position), and
 * `labelColumnRead`: the training CSV file's label column (0-based index, and its header name if any).
 */
export const stateDataSettingsSchema = dataFormatSchema.extend({
  header: z.union([z.boolean(), z.literal("auto")]),
  headerRead: z.boolean().optional(),
  delimiterRead: z.string().length(1).optional(),
  featureNames: z.array(z.string()).min(1).optional(),
  labelColumnRead: z.strictObject({ index: z.number().int().min(0), name: z.string().optional() }).optional(),
});

