/**
 * Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017), as Renate
 * runs it through Avalanche (renate/updaters/avalanche/learner.py
 * AvalancheEWCLearner; avalanche/training/plugins/ewc.py EWCPlugin). No replay
 * memory: at the end of each update the empirical Fisher F of the chunk
 * (empirical_fisher.ts) and the weights theta* are kept, and every step of
 * later updates minimises
 *   mean CE(new batch) + ewcLambda * sum over kept pairs k, weights i of F_k,i (theta_i - theta*_k,i)^2.
 * Like Avalanche, the penalty has no 1/2 (the paper writes lambda/2), so
 * Renate's ewc_lambda 0.4 is the default and means the same here.
 *
 * ewcMode "separate" (Avalanche's default, Renate's): one (F, theta*) pair per
 * past update, all kept (the state grows by two copies of the trainable
 * weights per update). "online" (Schwarz et al. 2018, "Progress & Compress";
 * Avalanche mode "online"): one pair, F = decayFactor * F_old + F_new and
 * theta* = the weights now; decayFactor 1 (default) sums the Fishers, the
 * single quadratic Huszar (PNAS 2018) derives; Avalanche has no default.
 *
 * Which weights: the trainable weights of the update's forward pass, the body
 * and the head of its task (Avalanche takes every parameter, but those
 * without a gradient, frozen ones and other tasks' heads, get F = 0: the same
 * penalty). Weights that did not exist or were frozen then are not
 * penalised; a weight frozen now keeps its constant term. Grown classes
 * (growClasses) get importance 0 and anchor 0, as Avalanche's zero padding.
 * maskUnusedClasses masks the Fisher's loss as it masks training (Renate's
 * Avalanche updaters ignore the option).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { classesPresent } from "../data/dataset_ops.js";
import { ModelError, StateError } from "../errors.js";
import { readColumn, writeColumn, columnDescriptorSchema } from "../state/columns_io.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { datasetSource } from "../training/batch_source.js";
import { empiricalFisher } from "../training/empirical_fisher.js";
import { makeMaskBias, type BatchLoss } from "../training/loop.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

/** The state subfolder holding the importances and anchor weights. */
const EWC_FOLDER = "ewc";

export const elasticWeightConsolidationOptionsSchema = updaterOptionsSchema
  .extend({
    ewcLambda: z.number().min(0).default(0.4),
    ewcMode: z.enum(["separate", "online"]).default("separate"),
    decayFactor: z.number().min(0).max(1).optional(),
  })
  .refine((o) => o.decayFactor === undefined || o.ewcMode === "online", {
    path: ["decayFactor"],
    message: 'decayFactor applies to ewcMode "online" only (Avalanche refuses it in "separate" mode too)',
  });

export interface ElasticWeightConsolidationOptions extends ModelUpdaterOptions {
  /** Weight of the penalty (no 1/2 factor); default 0.4 (Renate's EWC_LAMBDA). */
  ewcLambda?: number | undefined;
  /** "separate" (default): one (Fisher, weights) pair per past update; "online": one decayed pair. */
  ewcMode?: "separate" | "online" | undefined;
  /** ewcMode "online" only: F = decayFactor * F_old + F_new, in [0, 1]; default 1. */
  decayFactor?: number | undefined;
}

/** A weight's importance (F) and anchor (theta*), both of the weight's shape. */
export interface EwcTerm {
  importance: tf.Tensor;
  anchor: tf.Tensor;
}

/** One (F, theta*) pair: a term per weight name. */
export type EwcPair = Map<string, EwcTerm>;

/**
 * sum over `pairs` and over the named `variables` that have a term in the pair
 * of sum(F * (variable - anchor)^2): EWC's penalty before ewcLambda, a scalar
 * (0 without terms). Shapes must agree (RangeError naming the weight).
 */
export function ewcPenalty(pairs: readonly EwcPair[], variables: readonly { name: string; variable: tf.Tensor }[]): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const pair of pairs) {
      for (const { name, variable } of variables) {
        const term = pair.get(name);
        if (term === undefined) continue;
        if (!tf.util.arraysEqual(term.anchor.shape, variable.shape)) {
          throw new RangeError(`ewcPenalty: weight "${name}" has shape [${variable.shape}] but its anchor [${term.anchor.shape}]`);
        }
        total = tf.add(total, tf.sum(tf.mul(term.importance, tf.squaredDifference(variable, term.anchor))));
      }
    }
    return total;
  });
}

/**
 * One weight's importance and anchor as kept between updates: typed arrays
 * (row-major, `shape`), so the pairs hold no tensors outside an update and
 * tf.memory() stays constant however many pairs "separate" mode keeps.
 */
export interface StoredEwcTerm {
  name: string;
  shape: number[];
  importance: Float32Array;
  anchor: Float32Array;
}

const storedPairsSchema = z.array(
  z.array(z.strictObject({ name: z.string().min(1), shape: z.array(z.number().int().nonnegative()), importance: columnDescriptorSchema, anchor: columnDescriptorSchema })),
);

export class ElasticWeightConsolidationModelUpdater extends ModelUpdater {
  readonly kind = "ewc";
  static override readonly optionsSchema: UpdaterOptionsSchema = elasticWeightConsolidationOptionsSchema as unknown as UpdaterOptionsSchema;
  readonly ewcLambda: number;
  readonly ewcMode: "separate" | "online";
  /** Online mode's decay (1 when not given); undefined in separate mode. */
  readonly decayFactor: number | undefined;
  /** The kept pairs, oldest first: one per update (separate) or at most one (online); each a term per weight. */
  private pairs: StoredEwcTerm[][] = [];

  constructor(options: ElasticWeightConsolidationOptions) {
    const resolved = resolveOptions(elasticWeightConsolidationOptionsSchema, options, "ElasticWeightConsolidationModelUpdater");
    super(resolved);
    this.ewcLambda = resolved.ewcLambda;
    this.ewcMode = resolved.ewcMode;
    this.decayFactor = resolved.ewcMode === "online" ? (resolved.decayFactor ?? 1) : undefined;
  }

  /** The kept (F, theta*) pairs, oldest first, as copies: a term per weight name. */
  storedPairs(): StoredEwcTerm[][] {
    return this.pairs.map((pair) => pair.map((term) => ({ ...term, shape: [...term.shape], importance: term.importance.slice(), anchor: term.anchor.slice() })));
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    const model = this.model;
    // Every head's weights: a head not trained in this update adds a constant, as in Avalanche.
    const penalised = model.namedTrainableVariables(model.taskIds());
    const pairs = this.pairs.map((pair) => new Map(pair.map((t) => [t.name, { importance: tf.tensor(t.importance, t.shape), anchor: tf.tensor(t.anchor, t.shape) }])));
    try {
      const loss: BatchLoss = (logits, batch) => {
        const ce = this.lossFn(logits, batch.labels);
        if (pairs.length === 0 || this.ewcLambda === 0) return ce;
        return tf.tidy(() => tf.add(ce, tf.mul(ewcPenalty(pairs, penalised), this.ewcLambda)) as tf.Tensor1D);
      };
      await this.trainOnLabels("ewc", taskId, chunk, this.trainTransforms, { loss });
    } finally {
      for (const pair of pairs) for (const { importance, anchor } of pair.values()) tf.dispose([importance, anchor]);
    }
    const maskBias = o.maskUnusedClasses ? makeMaskBias(classesPresent(chunk), model.numClasses) : undefined;
    let fisher;
    try {
      fisher = await empiricalFisher(model, datasetSource(chunk, this.trainTransforms), {
        taskId, batchSize: o.batchSize, lossFn: this.lossFn, seed: this.phaseSeed("fisher"), maskBias,
      });
    } finally {
      maskBias?.dispose();
    }
    const current = new Map(model.namedTrainableVariables(taskId).map(({ name, variable }) => [name, variable]));
    const fresh: StoredEwcTerm[] = [];
    for (const { name, value } of fisher) {
      const importance = (await value.data()) as Float32Array;
      value.dispose();
      fresh.push({ name, shape: [...value.shape], importance, anchor: ((await current.get(name)!.data()) as Float32Array).slice() });
    }
    if (this.ewcMode === "separate" || this.pairs.length === 0) {
      this.pairs = [...this.pairs, fresh];
      return;
    }
    const now = new Map<string, Float32Array>();
    for (const { name, variable } of model.namedTrainableVariables(model.taskIds())) now.set(name, ((await variable.data()) as Float32Array).slice());
    this.pairs = [decayedPair(this.pairs[0]!, fresh, this.decayFactor!, now)];
  }

  /** New classes: every stored head term is padded with importance 0 (and anchor 0) for them. */
  protected override onClassesGrown(): void {
    const model = this.model;
    const shapes = new Map(model.namedTrainableVariables(model.taskIds()).map(({ name, variable }) => [name, variable.shape]));
    this.pairs = this.pairs.map((pair) =>
      pair.map((term) => {
        const shape = shapes.get(term.name);
        if (shape === undefined || tf.util.arraysEqual(shape, term.shape)) return term;
        return { name: term.name, shape, importance: padLastAxis(term.importance, term.shape, shape, term.name), anchor: padLastAxis(term.anchor, term.shape, shape, term.name) };
      }),
    );
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { ewcLambda: this.ewcLambda, ewcMode: this.ewcMode, ...(this.decayFactor === undefined ? {} : { decayFactor: this.decayFactor }) };
  }

  protected async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    const stored = [];
    for (const [p, pair] of this.pairs.entries()) {
      const terms = [];
      for (const [w, { name, shape, importance, anchor }] of pair.entries()) {
        terms.push({
          name,
          shape,
          importance: await writeColumn(files, EWC_FOLDER, `pair-${p}.weight-${w}.importance`, importance),
          anchor: await writeColumn(files, EWC_FOLDER, `pair-${p}.weight-${w}.anchor`, anchor),
        });
      }
      stored.push(terms);
    }
    // The mode is the state's, not just an option: its pairs mean one thing or the other (tester H, H12).
    return { pairs: stored, ewcMode: this.ewcMode };
  }

  protected async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    const where = `${files.location}/manifest.json (data.algorithm.pairs)`;
    const parsed = storedPairsSchema.safeParse(data["pairs"]);
    if (!parsed.success) throw new StateError(`${where}: ${z.prettifyError(parsed.error)}`);
    // States written before the mode was stored tell it by their pairs only where there are two or more.
    const written = data["ewcMode"] ?? (parsed.data.length > 1 ? "separate" : undefined);
    if (written !== undefined && written !== this.ewcMode) {
      throw new StateError(
        `${files.location} was written with ewcMode ${JSON.stringify(written)} (updater ${written === "online" ? '"ewc-online"' : '"ewc"'}), but this ` +
          `updater runs ewcMode ${JSON.stringify(this.ewcMode)}: the penalty's pairs mean one or the other. Resume with the state's mode, or start a new state`,
      );
    }
    const pairs: StoredEwcTerm[][] = [];
    for (const stored of parsed.data) {
      const pair: StoredEwcTerm[] = [];
      for (const { name, shape, importance, anchor } of stored) {
        const expected = { dtype: "float32" as const, length: shape.reduce((a, b) => a * b, 1) };
        pair.push({ name, shape, importance: await readColumn(files, EWC_FOLDER, importance, expected), anchor: await readColumn(files, EWC_FOLDER, anchor, expected) });
      }
      pairs.push(pair);
    }
    this.pairs = pairs;
  }
}

/**
 * Online EWC's one pair: F = decay * F_old + F_new over the union of the
 * weights (float32, like the tensors it came from); theta* = the weights
 * `now` (the old anchor for a weight no longer trainable).
 */
function decayedPair(old: readonly StoredEwcTerm[], fresh: readonly StoredEwcTerm[], decay: number, now: ReadonlyMap<string, Float32Array>): StoredEwcTerm[] {
  const added = new Map(fresh.map((term) => [term.name, term]));
  const merged = old.map((before) => {
    const importance = before.importance.map((f, i) => Math.fround(decay * f) + (added.get(before.name)?.importance[i] ?? 0));
    return { name: before.name, shape: before.shape, importance, anchor: now.get(before.name) ?? before.anchor };
  });
  const known = new Set(old.map((term) => term.name));
  return [...merged, ...fresh.filter((term) => !known.has(term.name))];
}

/** `values` of shape `from` zero-padded along the last axis to `to` (which differs from `from` only there, and is wider). */
function padLastAxis(values: Float32Array, from: readonly number[], to: readonly number[], name: string): Float32Array {
  const last = to.length - 1;
  const grownOnlyLast = to.length === from.length && to.every((n, d) => (d === last ? n >= from[d]! : n === from[d]));
  if (!grownOnlyLast) {
    throw new ModelError(`EWC: weight "${name}" changed shape from [${from}] to [${to}]; only the class axis of a head may grow`);
  }
  const oldWidth = from[last]!;
  const newWidth = to[last]!;
  const out = new Float32Array((values.length / oldWidth) * newWidth);
  for (let row = 0; row < values.length / oldWidth; row++) out.set(values.subarray(row * oldWidth, (row + 1) * oldWidth), row * newWidth);
  return out;
}
