/**
 * Learning without Forgetting (Li & Hoiem, ECCV 2016 / TPAMI 2017), as
 * Renate runs it through Avalanche (renate/updaters/avalanche/learner.py
 * AvalancheLwFLearner; avalanche/training/plugins/lwf.py and
 * regularization.py LearningWithoutForgetting). No replay memory: the
 * teacher is a frozen copy of the model as the previous update left it, and
 * every step of later updates minimises, per row of the new chunk,
 *   CE(model(x), y) + alpha * sum over distilled heads h of KL(q_h || p_h),
 *   q_h = softmax(teacher_h(x)[old classes of h] / T),
 *   p_h = softmax(model_h(x)[old classes of h] / T),
 * averaged over the batch (torch's kl_div reduction "batchmean"). Defaults
 * alpha 1, temperature 2 (Avalanche's LwFPlugin, which Renate keeps). Like
 * Avalanche: no T^2 factor; only the classes seen in earlier updates are
 * distilled (the "active units"), per head; a multi-head model distils every
 * head of an earlier task, and those heads train too (the paper's theta_o).
 * KL and the paper's cross-entropy with soft targets differ by the teacher's
 * entropy, a constant: same gradients, and KL is 0 when model = teacher.
 *
 * The copy is taken when an update starts, not when the previous one ends
 * (Avalanche's post_adapt): relearn changes no weight between updates, so
 * the weights are the same, and then the state needs no second model (its
 * model IS the teacher: a resumed run is bit-identical), no teacher lives
 * between updates, and an update that fails its final checks leaves no
 * broken teacher behind. Grown classes and a new task's head, added before
 * the copy, are never distilled. A model a user edits between updates is
 * distilled as edited.
 *
 * Deliberately different from Avalanche: the teacher runs in inference mode
 * (Avalanche deep-copies the model in training mode, so its dropout and
 * batch-norm act on the teacher's outputs); alpha is one number, not a list
 * per experience; maskUnusedClasses (which Renate's Avalanche updaters
 * ignore) masks only classes neither in this chunk nor distilled, because the
 * distillation reads the old classes' logits.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { classesPresent } from "../data/dataset_ops.js";
import { StateError } from "../errors.js";
import { DEFAULT_TASK_ID } from "../model/continual_model.js";
import type { StateReader } from "../state/store.js";
import type { BatchLoss } from "../training/loop.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

export const learningWithoutForgettingOptionsSchema = updaterOptionsSchema.extend({
  alpha: z.number().min(0).default(1),
  temperature: z.number().positive().default(2),
});

export interface LearningWithoutForgettingOptions extends ModelUpdaterOptions {
  /** Weight of the distillation term; default 1 (Avalanche LwFPlugin, Renate LWF_ALPHA). */
  alpha?: number | undefined;
  /** Softmax temperature of the distillation, > 0; default 2 (Avalanche, Renate LWF_TEMPERATURE). */
  temperature?: number | undefined;
}

/**
 * Per-row LwF distillation term: KL(q || p) = sum_c q_c (log q_c - log p_c)
 * over the columns `classes` only, q = softmax(teacher[:, classes] / T),
 * p = softmax(student[:, classes] / T). student and teacher are (B, C) and
 * (B, C') logits (C' < C after the model grew classes); returns (B,). Its
 * batch mean is torch.nn.functional.kl_div(log p, q, reduction="batchmean"),
 * Avalanche's _distillation_loss. RangeError on an empty or out-of-range
 * class list, a non-positive temperature, or different row counts.
 */
export function lwfDistillationLoss(student: tf.Tensor2D, teacher: tf.Tensor2D, classes: readonly number[], temperature: number): tf.Tensor1D {
  if (student.shape[0] !== teacher.shape[0]) {
    throw new RangeError(`lwfDistillationLoss: student has ${student.shape[0]} rows but teacher ${teacher.shape[0]}`);
  }
  if (!(temperature > 0)) throw new RangeError(`lwfDistillationLoss: temperature must be > 0, got ${temperature}`);
  const width = Math.min(student.shape[1], teacher.shape[1]);
  if (classes.length === 0 || classes.some((c) => !Number.isInteger(c) || c < 0 || c >= width)) {
    throw new RangeError(`lwfDistillationLoss: classes must be a non-empty list of columns in [0, ${width}), got [${classes.join(", ")}]`);
  }
  return tf.tidy(() => {
    // Columns picked by a product with a one-hot (C, K) matrix: gather's gradient has no wasm kernel.
    const pick = (logits: tf.Tensor2D) => tf.div(tf.matMul(logits, columnSelection(logits.shape[1], classes)), temperature);
    const logP = tf.logSoftmax(pick(student));
    const logQ = tf.logSoftmax(pick(teacher));
    return tf.sum(tf.mul(tf.exp(logQ), tf.sub(logQ, logP)), 1) as tf.Tensor1D;
  });
}

/** (width, K) matrix whose column j is one-hot at classes[j]: logits (B, width) times it are the columns `classes`. */
function columnSelection(width: number, classes: readonly number[]): tf.Tensor2D {
  const values = new Float32Array(width * classes.length);
  classes.forEach((c, j) => {
    values[c * classes.length + j] = 1;
  });
  return tf.tensor2d(values, [width, classes.length]);
}

const distilledClassesSchema = z.array(z.strictObject({ taskId: z.string(), classes: z.array(z.number().int().nonnegative()).min(1) }));

export class LearningWithoutForgettingModelUpdater extends ModelUpdater {
  readonly kind = "lwf";
  static override readonly optionsSchema: UpdaterOptionsSchema = learningWithoutForgettingOptionsSchema;
  readonly alpha: number;
  readonly temperature: number;
  /** Per head (task id; DEFAULT_TASK_ID for a single-head model): the classes of earlier updates, ascending. */
  private readonly distilled = new Map<string, number[]>();

  constructor(options: LearningWithoutForgettingOptions) {
    const resolved = resolveOptions(learningWithoutForgettingOptionsSchema, options, "LearningWithoutForgettingModelUpdater");
    super(resolved);
    this.alpha = resolved.alpha;
    this.temperature = resolved.temperature;
  }

  /** The classes distilled per head in the next update (a copy). */
  distilledClasses(): Map<string, number[]> {
    return new Map([...this.distilled].map(([taskId, classes]) => [taskId, [...classes]]));
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const model = this.model;
    const head = model.multiHead ? taskId : DEFAULT_TASK_ID;
    const distilled = this.alpha === 0 ? [] : [...this.distilled];
    // The model as the previous update left it, frozen (see the file comment).
    const teacher = distilled.length === 0 ? undefined : model.clone();
    const loss: BatchLoss = (logits, batch) => {
      const ce = this.lossFn(logits, batch.labels);
      if (teacher === undefined) return ce;
      return tf.tidy(() => {
        let total: tf.Tensor1D = ce;
        for (const [task, classes] of distilled) {
          // The current head's logits are the loop's; an old task's head needs its own forward pass.
          const student = task === head ? logits : model.getLogits(batch.x, task, true);
          const kl = lwfDistillationLoss(student, teacher.getLogits(batch.x, task, false), classes, this.temperature);
          total = tf.add(total, tf.mul(kl, this.alpha));
        }
        return total;
      });
    };
    const ownOld = this.distilled.get(head) ?? [];
    try {
      await this.trainOnLabels("lwf", taskId, chunk, this.trainTransforms, {
        loss,
        keepUnmasked: ownOld,
        extraHeads: distilled.map(([task]) => task).filter((task) => task !== head),
      });
    } finally {
      teacher?.dispose();
    }
    // This chunk's classes count as old from the next update on.
    this.distilled.set(head, [...new Set([...ownOld, ...classesPresent(chunk)])].sort((a, b) => a - b));
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { alpha: this.alpha, temperature: this.temperature };
  }

  protected async saveAlgorithmState(): Promise<Record<string, unknown>> {
    return { distilledClasses: [...this.distilled].map(([taskId, classes]) => ({ taskId, classes })) };
  }

  protected async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    const where = `${files.location}/manifest.json (data.algorithm.distilledClasses)`;
    const parsed = distilledClassesSchema.safeParse(data["distilledClasses"]);
    if (!parsed.success) throw new StateError(`${where}: ${z.prettifyError(parsed.error)}`);
    const model = this.model;
    const distilled = new Map<string, number[]>();
    for (const { taskId, classes } of parsed.data) {
      const known = model.taskIds();
      if (!known.includes(taskId)) throw new StateError(`${where}: task ${JSON.stringify(taskId)} has no head in the state's model (${known.join(", ")})`);
      const outside = classes.filter((c) => c >= model.numClasses);
      if (outside.length > 0) throw new StateError(`${where}: classes ${outside.join(", ")} are outside the model's ${model.numClasses} outputs`);
      distilled.set(taskId, [...new Set(classes)].sort((a, b) => a - b));
    }
    this.distilled.clear();
    for (const [taskId, classes] of distilled) this.distilled.set(taskId, classes);
  }
}
