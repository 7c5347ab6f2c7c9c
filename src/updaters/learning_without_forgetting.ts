/**
 * Learning without Forgetting (Li & Hoiem, ECCV 2016 / TPAMI 2017), as
 * Renate runs it through Avalanche (renate/updaters/avalanche/learner.py
 * AvalancheLwFLearner; avalanche/training/plugins/lwf.py and
 * regularization.py LearningWithoutForgetting). No replay memory: at the end
 * of each update a frozen copy of the model (the teacher) is kept, and every
 * step of later updates minimises, per row of the new chunk,
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
import { DEFAULT_TASK_ID, type ContinualModel } from "../model/continual_model.js";
import { loadModelFiles, saveModelFiles } from "../model/model_files.js";
import type { StateReader, StateWriter } from "../state/store.js";
import type { BatchLoss } from "../training/loop.js";
import { ModelUpdater } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

/** The state subfolder holding the teacher (the model as it was at the end of the previous update). */
const TEACHER_FOLDER = "teacher";

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
  /** The model at the end of the previous update (undefined before the first update ends). */
  private teacher: ContinualModel | undefined;
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
    const teacher = this.teacher;
    const distilled = teacher === undefined || this.alpha === 0 ? [] : [...this.distilled];
    const loss: BatchLoss = (logits, batch) => {
      const ce = this.lossFn(logits, batch.labels);
      if (distilled.length === 0) return ce;
      return tf.tidy(() => {
        let total: tf.Tensor1D = ce;
        for (const [task, classes] of distilled) {
          // The current head's logits are the loop's; an old task's head needs its own forward pass.
          const student = task === head ? logits : model.getLogits(batch.x, task, true);
          const kl = lwfDistillationLoss(student, teacher!.getLogits(batch.x, task, false), classes, this.temperature);
          total = tf.add(total, tf.mul(kl, this.alpha));
        }
        return total;
      });
    };
    const ownOld = this.distilled.get(head) ?? [];
    await this.trainOnLabels("lwf", taskId, chunk, this.trainTransforms, {
      loss,
      keepUnmasked: ownOld,
      extraHeads: distilled.map(([task]) => task).filter((task) => task !== head),
    });
    // The teacher of the next update: this model, frozen; its classes now count as old.
    const next = model.clone();
    this.teacher?.dispose();
    this.teacher = next;
    this.distilled.set(head, [...new Set([...ownOld, ...classesPresent(chunk)])].sort((a, b) => a - b));
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { alpha: this.alpha, temperature: this.temperature };
  }

  protected async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    if (this.teacher === undefined) return { distilledClasses: [] };
    await saveModelFiles(this.teacher, files, TEACHER_FOLDER);
    return { distilledClasses: [...this.distilled].map(([taskId, classes]) => ({ taskId, classes })) };
  }

  protected async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    const where = `${files.location}/manifest.json (data.algorithm.distilledClasses)`;
    const parsed = distilledClassesSchema.safeParse(data["distilledClasses"]);
    if (!parsed.success) throw new StateError(`${where}: ${z.prettifyError(parsed.error)}`);
    this.teacher?.dispose();
    this.teacher = undefined;
    this.distilled.clear();
    if (parsed.data.length === 0) return;
    const teacher = await loadModelFiles(files, TEACHER_FOLDER);
    try {
      const model = this.model;
      if (teacher.multiHead !== model.multiHead || !tf.util.arraysEqual(teacher.inputShape, model.inputShape)) {
        throw new StateError(`${files.location}/${TEACHER_FOLDER}: the teacher model does not match the state's model (heads or input shape differ)`);
      }
      for (const { taskId, classes } of parsed.data) {
        const known = teacher.taskIds();
        if (!known.includes(taskId)) throw new StateError(`${where}: task ${JSON.stringify(taskId)} has no head in the teacher (${known.join(", ")})`);
        const outside = classes.filter((c) => c >= teacher.numClasses);
        if (outside.length > 0) throw new StateError(`${where}: classes ${outside.join(", ")} are outside the teacher's ${teacher.numClasses} outputs`);
        this.distilled.set(taskId, [...new Set(classes)].sort((a, b) => a - b));
      }
    } catch (error) {
      teacher.dispose();
      throw error;
    }
    this.teacher = teacher;
  }
}
