/**
 * Exponential moving averages of a model's weights (the "semantic memories"
 * of CLS-ER, Arani et al., ICLR 2022; Renate's WeightedCLSLossComponent), and
 * how such averaged weights are kept between updates and in a state folder.
 *
 * An averaged model is a ContinualModel of the working model's architecture
 * (built while an update trains) whose weights follow
 *   ema <- ema + (1 - a) * (w - ema)      (= a * ema + (1 - a) * w)
 * with a = min(1 - 1 / (step + 1), decay): the warm-up of Renate and of the
 * CLS-ER authors' code, so the first steps move the average far (step 1: a =
 * 0.5) and the decay takes over after 1 / (1 - decay) steps. The first form
 * is used because a weight equal in both models (a frozen one) then stays
 * bit for bit what it is. EVERY weight is averaged, batch-norm moving
 * statistics included; Renate averages `parameters()` only, which leaves an
 * averaged model's batch-norm statistics at those of the model it was copied
 * from, forever.
 *
 * Between updates the averages are kept as weight snapshots; when the
 * working model gained a head (a new task) or classes (growClasses) in the
 * meantime, `carryOver` widens them: what the average already had is kept,
 * what is new is taken from the working model (its fresh initial values).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import { ModelError, StateError } from "../errors.js";
import type { ContinualModel } from "../model/continual_model.js";
import { columnDescriptorSchema, readColumn, writeColumn } from "../state/columns_io.js";
import { describeZodIssue, MANIFEST_FILE } from "../state/format.js";
import type { StateReader, StateWriter } from "../state/store.js";

/**
 * The averaging weight `a` of EMA step `step` (counted from 1):
 * min(1 - 1 / (step + 1), decay). RangeError for a step below 1 or a decay
 * outside [0, 1].
 */
export function emaDecayAt(step: number, decay: number): number {
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`EMA step must be an integer >= 1, got ${step}`);
  if (!(decay >= 0 && decay <= 1)) throw new RangeError(`EMA decay must be in [0, 1], got ${decay}`);
  return Math.min(1 - 1 / (step + 1), decay);
}

/**
 * One EMA step in place: every weight of `ema` moves to
 * ema + (1 - a) * (w - ema), w the same weight of `source` (same
 * architecture and trainable flags, so both list their weights in the same
 * order). `a` in [0, 1]: 1 leaves `ema` as it is, 0 copies `source`.
 */
export function emaUpdate(ema: ContinualModel, source: ContinualModel, a: number): void {
  if (!(a >= 0 && a <= 1)) throw new RangeError(`EMA weight must be in [0, 1], got ${a}`);
  const averaged = ema.snapshotWeights();
  const current = source.snapshotWeights();
  try {
    if (averaged.length !== current.length) {
      throw new ModelError(`EMA update: the averaged model has ${averaged.length} weights but the working model ${current.length}`);
    }
    const next = tf.tidy(() => averaged.map((e, i) => tf.add(e, tf.mul(tf.sub(current[i]!, e), 1 - a))));
    try {
      ema.restoreWeights(next);
    } finally {
      tf.dispose(next);
    }
  } finally {
    tf.dispose(averaged);
    tf.dispose(current);
  }
}

/**
 * Weights for the current architecture from `kept` (an earlier snapshot):
 * weight i of `kept` is kept when its shape is that of `current[i]`; a kept
 * weight narrower along its LAST axis only (a head that grew classes: kernel
 * [features, classes], bias [classes]) gets the current weight's extra
 * columns appended; weights beyond `kept` (heads added since, which come
 * last) are copies of `current`'s. New tensors; the caller owns them.
 * ModelError when `kept` does not fit the architecture.
 */
export function carryOver(kept: readonly tf.Tensor[], current: readonly tf.Tensor[]): tf.Tensor[] {
  const problem = carryOverProblem(kept.map((t) => t.shape), current.map((t) => t.shape));
  if (problem !== undefined) throw new ModelError(`the kept averaged weights do not fit the model: ${problem}`);
  return tf.tidy(() =>
    current.map((now, i) => {
      const old = kept[i];
      if (old === undefined) return now.clone();
      if (tf.util.arraysEqual(old.shape, now.shape)) return old.clone();
      const axis = now.rank - 1;
      const begin = now.shape.map((_, d) => (d === axis ? old.shape[axis]! : 0));
      const size = now.shape.map((n, d) => (d === axis ? n - old.shape[axis]! : n));
      return tf.concat([old, tf.slice(now, begin, size)], axis);
    }),
  );
}

/** Why weights of shapes `kept` cannot be carried over to `current` (see carryOver), or undefined. */
export function carryOverProblem(kept: readonly number[][], current: readonly number[][]): string | undefined {
  if (kept.length > current.length) return `${kept.length} weights kept but the model has ${current.length}`;
  for (const [i, old] of kept.entries()) {
    const now = current[i]!;
    const last = now.length - 1;
    const fits = old.length === now.length && old.every((n, d) => (d === last ? n <= now[d]! : n === now[d]));
    if (!fits) return `weight ${i} has shape [${old.join(", ")}] but the model's is [${now.join(", ")}]`;
  }
  return undefined;
}

/** The manifest's description of saved weights: one float32 column per weight. */
const savedWeightsSchema = z.array(z.strictObject({ shape: z.array(z.number().int().nonnegative()), values: columnDescriptorSchema }));
export type SavedWeights = z.infer<typeof savedWeightsSchema>;

/** Writes `weights` as `<folder>/<i>.bin` columns of the state being written; returns their manifest entry. */
export async function saveWeights(files: StateWriter, folder: string, weights: readonly tf.Tensor[]): Promise<SavedWeights> {
  const out: SavedWeights = [];
  for (const [i, weight] of weights.entries()) {
    const values = (await weight.data()) as Float32Array;
    out.push({ shape: [...weight.shape], values: await writeColumn(files, folder, String(i), values) });
  }
  return out;
}

/** Reads what saveWeights wrote (`section` is its manifest entry, found at `where`); StateError if damaged. */
export async function loadWeights(files: StateReader, folder: string, section: unknown, where: string): Promise<tf.Tensor[]> {
  const parsed = savedWeightsSchema.safeParse(section);
  if (!parsed.success) throw new StateError(`${files.location}/${MANIFEST_FILE}: ${where} is invalid: ${describeZodIssue(parsed.error, [])}`);
  const weights: tf.Tensor[] = [];
  try {
    for (const { shape, values } of parsed.data) {
      const array = await readColumn(files, folder, values, { dtype: "float32", length: shape.reduce((a, b) => a * b, 1) });
      weights.push(tf.tensor(array, shape, "float32"));
    }
  } catch (error) {
    tf.dispose(weights);
    throw error;
  }
  return weights;
}
