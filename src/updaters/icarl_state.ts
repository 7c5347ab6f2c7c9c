/**
 * iCaRL's part of a state folder: the exemplar memory (items grouped by
 * class, each class in herding order) and the class means of the model
 * saved next to it, in `exemplars/`. The manifest's `algorithm` section
 * describes both; readers other than the updater (predict, evaluate,
 * export-model) read the class means through readClassMeans.
 */
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { StateError } from "../errors.js";
import type { ClassMeans } from "../model/nearest_class_mean.js";
import { columnDescriptorSchema, readColumn, writeColumn } from "../state/columns_io.js";
import { describeZodIssue, MANIFEST_FILE } from "../state/format.js";
import type { StateReader, StateWriter } from "../state/store.js";

/** The state kind (and updater kind) of iCaRL. */
export const ICARL_KIND = "icarl";

const FOLDER = "exemplars";

const sectionSchema = z.strictObject({
  exemplars: z
    .strictObject({
      featureShape: z.array(z.number().int().positive()).min(1),
      numClasses: z.number().int().positive(),
      features: columnDescriptorSchema,
      labels: columnDescriptorSchema,
    })
    .optional(),
  classMeans: z
    .strictObject({
      width: z.number().int().positive(),
      classes: z.array(z.number().int().nonnegative()),
      values: columnDescriptorSchema,
    })
    .optional(),
});

/** What an iCaRL state keeps between updates. */
export interface ICaRLState {
  exemplars: Dataset | undefined;
  classMeans: ClassMeans | undefined;
}

/** Writes the exemplars and class means under `exemplars/`; returns the manifest's algorithm section. */
export async function saveICaRLState(files: StateWriter, state: ICaRLState): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const { exemplars, classMeans } = state;
  if (exemplars !== undefined) {
    out["exemplars"] = {
      featureShape: [...exemplars.featureShape],
      numClasses: exemplars.numClasses,
      features: await writeColumn(files, FOLDER, "features", exemplars.features),
      labels: await writeColumn(files, FOLDER, "labels", exemplars.labels),
    };
  }
  if (classMeans !== undefined) {
    out["classMeans"] = { width: classMeans.width, classes: [...classMeans.classes], values: await writeColumn(files, FOLDER, "class_means", classMeans.values) };
  }
  return out;
}

/** Reads what saveICaRLState wrote; a StateError names the manifest or file at fault. */
export async function loadICaRLState(files: StateReader, section: unknown): Promise<ICaRLState> {
  const parsed = parseSection(files, section);
  let exemplars: Dataset | undefined;
  if (parsed.exemplars !== undefined) {
    const { featureShape, numClasses } = parsed.exemplars;
    const labels = await readColumn(files, FOLDER, parsed.exemplars.labels, { dtype: "int32" });
    const size = featureShape.reduce((n, d) => n * d, 1);
    const features = await readColumn(files, FOLDER, parsed.exemplars.features, { dtype: "float32", length: labels.length * size });
    const bad = labels.findIndex((label) => label < 0 || label >= numClasses);
    if (bad >= 0) throw new StateError(`${files.location}/${FOLDER}: exemplar ${bad} has label ${labels[bad]}, outside [0, ${numClasses})`);
    exemplars = { features, labels, featureShape, numClasses, length: labels.length };
  }
  return { exemplars, classMeans: await readMeans(files, parsed) };
}

/** The class means of an iCaRL state (undefined before its first update), for predict and evaluate. */
export async function readClassMeans(files: StateReader, section: unknown): Promise<ClassMeans | undefined> {
  return readMeans(files, parseSection(files, section));
}

function parseSection(files: StateReader, section: unknown): z.infer<typeof sectionSchema> {
  const parsed = sectionSchema.safeParse(section);
  if (!parsed.success) {
    throw new StateError(
      `${files.location}/${MANIFEST_FILE}: the ${ICARL_KIND} state's algorithm section is invalid: ${describeZodIssue(parsed.error, ["data", "algorithm"])}`,
    );
  }
  return parsed.data;
}

async function readMeans(files: StateReader, parsed: z.infer<typeof sectionSchema>): Promise<ClassMeans | undefined> {
  if (parsed.classMeans === undefined) return undefined;
  const { width, classes } = parsed.classMeans;
  const values = await readColumn(files, FOLDER, parsed.classMeans.values, { dtype: "float32", length: classes.length * width });
  if (classes.some((c, i) => i > 0 && c <= classes[i - 1]!)) {
    throw new StateError(`${files.location}/${MANIFEST_FILE}: the class means' classes must be ascending and distinct, got [${classes.join(", ")}]`);
  }
  return { width, classes, values };
}
