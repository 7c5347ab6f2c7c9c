/**
 * DER++ (Buzzega et al., NeurIPS 2020, "Dark Experience for General
 * Continual Learning"). A reservoir memory stores each item with the logits
 * the model gave it when it streamed in; every step minimises
 *   CE(new batch) + alpha * MSE(model(x_m1), stored logits_m1) + beta * CE(model(x_m2), y_m2)
 * with two memory batches drawn independently and uniformly (each term a
 * mean over its own rows; MSE averages over classes too, like PyTorch's
 * mse_loss). Defaults alpha 0.1, beta 0.5: the DER paper's Seq-CIFAR-10
 * values for its smallest buffer (200); Mammoth tunes them per dataset and
 * buffer size.
 *
 * Streaming and logits, our choices: after each optimizer step of the first
 * epoch the step's chunk items are offered to the reservoir with the logits
 * of the model as it is right after that step, computed in inference mode
 * on test-transformed inputs (Mammoth stores the step's training-mode
 * outputs on augmented inputs, from just before the step). Items training
 * never reached (maxEpochs 0, a stop within the first epoch) are offered at
 * the end of the update with the final model's logits.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { subsetDataset } from "../data/dataset_ops.js";
import { extractLogitsArray } from "../training/logits.js";
import { logitMeanSquaredError, type LossFunction } from "../training/losses.js";
import type { BatchLoss } from "../training/loop.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import { widenStoredLogits } from "./stored_logits.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import { CHUNK_ROLE, classesSeen, StreamTracker } from "./replay_source.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

const LOGITS = "logits";
/** Target roles of the two memory batches (see replaySource). */
const LOGIT_REPLAY_ROLE = 1;
const LABEL_REPLAY_ROLE = 2;

export const darkExperienceReplayOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
  memoryBatchSize: z.number().int().positive().optional(),
  alpha: z.number().min(0).default(0.1),
  beta: z.number().min(0).default(0.5),
});

export interface DarkExperienceReplayOptions extends ModelUpdaterOptions {
  /** Capacity of the reservoir memory (items). */
  memorySize: number;
  /** Size of EACH of the two memory batches; default batchSize. */
  memoryBatchSize?: number | undefined;
  /** Weight of the logit-matching (MSE) term; default 0.1. */
  alpha?: number | undefined;
  /** Weight of the memory cross-entropy term; default 0.5. */
  beta?: number | undefined;
}

/**
 * Per-row DER++ loss whose batch MEAN is the DER++ objective. `targets` rows
 * are [role, stored logits...] as replaySource builds them: role CHUNK_ROLE
 * rows enter the new-data CE, role 1 rows the MSE, role 2 rows the memory
 * CE; each term is a mean over its own rows (0 when it has none). When
 * `scoredClasses` is given, the MSE covers those logit columns only, so
 * masked-out logits never meet the stored ones.
 */
export function darkExperienceReplayLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targets: tf.Tensor2D,
  options: { alpha: number; beta: number; lossFn: LossFunction; scoredClasses?: readonly number[] | undefined },
): tf.Tensor1D {
  const [rows, classes] = logits.shape;
  if (targets.shape[0] !== rows || targets.shape[1] !== classes + 1) {
    throw new RangeError(`darkExperienceReplayLoss: targets must be [${rows}, ${classes + 1}] (role + logits), got [${targets.shape}]`);
  }
  return tf.tidy(() => {
    const role = tf.squeeze(tf.slice(targets, [0, 0], [rows, 1]), [1]);
    const stored = tf.slice(targets, [0, 1], [rows, classes]);
    // Each row's share of the batch mean: rows * weight / (rows in its term).
    const share = (code: number, weight: number) => {
      const member = tf.cast(tf.equal(role, code), "float32");
      return tf.mul(member, tf.div(rows * weight, tf.maximum(tf.sum(member), 1)));
    };
    const ce = options.lossFn(logits, labels);
    const mse = logitMeanSquaredError(logits, stored, options.scoredClasses);
    const ceWeight = tf.add(share(CHUNK_ROLE, 1), share(LABEL_REPLAY_ROLE, options.beta));
    return tf.add(tf.mul(ce, ceWeight), tf.mul(mse, share(LOGIT_REPLAY_ROLE, options.alpha))) as tf.Tensor1D;
  });
}

export class DarkExperienceReplayModelUpdater extends MemoryModelUpdater {
  readonly kind = "der++";
  static override readonly optionsSchema: UpdaterOptionsSchema = darkExperienceReplayOptionsSchema;
  readonly memoryBatchSize: number;
  readonly alpha: number;
  readonly beta: number;

  constructor(options: DarkExperienceReplayOptions) {
    const resolved = resolveOptions(darkExperienceReplayOptionsSchema, options, "DarkExperienceReplayModelUpdater");
    super(resolved, "reservoir");
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
    this.alpha = resolved.alpha;
    this.beta = resolved.beta;
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    const model = this.model;
    const stream = new StreamTracker(chunk.length);
    const offer = async (indices: Int32Array) => {
      if (indices.length === 0) return;
      const items = subsetDataset(chunk, indices);
      const logits = await extractLogitsArray(model, items, o.batchSize, taskId, { transform: o.testTransform });
      this.memory.add(items, { [LOGITS]: { values: logits.values, rowShape: [logits.width] } }, taskId);
    };
    const scoredClasses = o.maskUnusedClasses ? classesSeen(chunk, this.memory) : undefined;
    const loss: BatchLoss = (logits, batch) =>
      darkExperienceReplayLoss(logits, batch.labels, batch.targets!, { alpha: this.alpha, beta: this.beta, lossFn: this.lossFn, scoredClasses });
    await this.train({
      phase: "der++",
      model,
      taskId,
      data: this.replayBatches(chunk, taskId, [this.memoryBatchSize, this.memoryBatchSize], {
        memoryTargets: { key: LOGITS, width: model.numClasses },
        afterStep: (indices) => offer(stream.take(indices)),
      }),
      loss,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: scoredClasses,
    });
    await offer(stream.takeRest());
  }

  /** New classes: every stored logit row gets the row's lowest logit for each (stored_logits.ts says why). */
  protected override onClassesGrown(classes: number): void {
    widenStoredLogits(this.memory, LOGITS, classes);
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { memorySize: this.memorySize, memoryBatchSize: this.memoryBatchSize, alpha: this.alpha, beta: this.beta };
  }
}
