/**
 * Super-ER: Renate's SuperExperienceReplayLearner
 * (src/renate/updaters/experimental/er.py), a combination of DER's logit
 * replay, CLS-ER's consistency with averaged models, POD's pooled feature
 * distillation and shrink-and-perturb. A reservoir memory stores each item
 * with its logits and the outputs of the layers named in `podLayers`, taken
 * when it streamed in (as DER++ and POD-ER do in relearn). At the start of
 * each update the trainable weights are shrunk and perturbed
 * (shrink_perturb.ts); every step then minimises
 *   (CE(new) + derAlpha * MSE(z_m1, stored logits_m1) + derBeta * CE(z_m2, y_m2)
 *    + clsAlpha * MSE(z_m2, CLS targets_m2) + podAlpha * POD(m3)) / (1 + derAlpha + derBeta + clsAlpha + podAlpha)
 * over three memory batches m1, m2, m3 drawn independently (Renate draws a
 * new one for its MSE, CE and POD components; the CLS term reuses the CE
 * batch), each term a mean over its own rows. The CLS targets are the logits
 * of whichever of CLS-ER's stable and plastic weight averages
 * (cls_ema_models.ts, the very pieces CLS-ER uses) gives the label the higher
 * probability; both take EMA steps after every optimizer step. The division
 * by the sum of the weights is Renate's loss normalisation (normalizeLoss);
 * Renate leaves the memory terms and their weights out while the memory is
 * empty, and so do we.
 *
 * Defaults are Renate's (defaults.py, SER_*): derAlpha 1, derBeta 1,
 * spShrinkFactor 0.95, spSigma 0.001, clsAlpha 0.1, CLS weights 0.999 /
 * 0.999 and probabilities 0.7 / 0.9, podAlpha 1, podDistillationType
 * "spatial", podNormalize true. podLayers has no default: Renate distils
 * whatever layers the model hooked, and with none divides 0 by 0 into NaN;
 * here naming none is an OptionsError, unless podAlpha is 0 (no POD term,
 * no third memory batch). The working model predicts, as in Renate
 * (CLS-ER's predictWith "stable" is not offered here).
 *
 * Multi-head models: every memory row runs through its own task's head, in
 * the working and the averaged models alike; the distilled layers are body
 * layers, shared by all heads; shrink-and-perturb moves every head.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { subsetDataset } from "../data/dataset_ops.js";
import { OptionsError, StateError } from "../errors.js";
import { Random } from "../random.js";
import type { StateReader, StateWriter } from "../state/store.js";
import type { RowTasks } from "../task_id.js";
import { extractActivationsArray } from "../training/activations.js";
import { extractLogitsArray } from "../training/logits.js";
import { logitMeanSquaredError, type LossFunction } from "../training/losses.js";
import type { BatchLoss } from "../training/loop.js";
import { ClsEmaModels, clsEmaSettingsProblem } from "./cls_ema_models.js";
import { darkExperienceReplayLoss } from "./dark_experience_replay.js";
import { termRowWeights } from "./loss_normalization.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import type { UpdatePlan } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import { POD_FEATURES, resolvePodLayout } from "./pod_experience_replay.js";
import { POD_DISTILLATION_TYPES, podLoss, type PodDistillationType, type PodLayout, type PodSettings } from "./pooled_output_distillation.js";
import { CHUNK_ROLE, classesSeen, StreamTracker, type MemoryTargets } from "./replay_source.js";
import { trackReplayRows } from "./replay_rows.js";
import { shrinkAndPerturb, type ShrinkPerturbSettings } from "./shrink_perturb.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";
import { widenStoredLogits } from "./stored_logits.js";

const LOGITS = "logits";
/** Roles of the memory batches (replaySource numbers them from 1): 1 and 2 are DER++'s (logit and label replay). */
const LABEL_ROLE = 2;
const POD_ROLE = 3;
/** Where the state keeps the averaged models. */
const CLS_FOLDER = "cls";

const weight = () => z.number().min(0);
const unit = () => z.number().min(0).max(1);

export const superExperienceReplayOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
  memoryBatchSize: z.number().int().positive().optional(),
  derAlpha: weight().default(1),
  derBeta: weight().default(1),
  spShrinkFactor: z.number().positive().default(0.95),
  spSigma: z.number().min(0).default(0.001),
  clsAlpha: weight().default(0.1),
  clsStableModelUpdateWeight: unit().default(0.999),
  clsPlasticModelUpdateWeight: unit().default(0.999),
  clsStableModelUpdateProbability: unit().default(0.7),
  clsPlasticModelUpdateProbability: unit().default(0.9),
  podAlpha: weight().default(1),
  podLayers: z.array(z.string().min(1)).default([]),
  podDistillationType: z.enum(POD_DISTILLATION_TYPES).default("spatial"),
  podNormalize: z.boolean().default(true),
  normalizeLoss: z.boolean().default(true),
});

export interface SuperExperienceReplayOptions extends ModelUpdaterOptions {
  /** Capacity of the reservoir memory (items). */
  memorySize: number;
  /** Size of EACH of the memory batches; default batchSize. */
  memoryBatchSize?: number | undefined;
  /** Weight of the stored-logit MSE; default 1 (Renate). */
  derAlpha?: number | undefined;
  /** Weight of the memory cross-entropy; default 1 (Renate). */
  derBeta?: number | undefined;
  /** Shrink factor of shrink-and-perturb, > 0; default 0.95 (Renate). */
  spShrinkFactor?: number | undefined;
  /** Standard deviation of shrink-and-perturb's noise; default 0.001 (Renate). */
  spSigma?: number | undefined;
  /** Weight of the CLS consistency MSE; default 0.1 (Renate). */
  clsAlpha?: number | undefined;
  /** CLS stable model's EMA decay; default 0.999. At least clsPlasticModelUpdateWeight. */
  clsStableModelUpdateWeight?: number | undefined;
  /** CLS plastic model's EMA decay; default 0.999. */
  clsPlasticModelUpdateWeight?: number | undefined;
  /** Chance of a stable-model EMA step after each optimizer step; default 0.7. Below the plastic one's. */
  clsStableModelUpdateProbability?: number | undefined;
  /** Chance of a plastic-model EMA step; default 0.9. */
  clsPlasticModelUpdateProbability?: number | undefined;
  /** Weight of the POD term; default 1 (Renate). 0 drops the term, and podLayers is then not needed. */
  podAlpha?: number | undefined;
  /** Body layers whose outputs are stored and distilled (ContinualModel.bodyLayerNames()); required unless podAlpha is 0. */
  podLayers?: readonly string[] | undefined;
  /** Pooling of the distilled outputs; default "spatial" (Renate), which needs feature maps: use "pixel" on an MLP. */
  podDistillationType?: PodDistillationType | undefined;
  /** L2-normalise each pooled row; default true (Renate). */
  podNormalize?: boolean | undefined;
  /** Divide the summed loss by the sum of its weights, as Renate does; default true. */
  normalizeLoss?: boolean | undefined;
}

/** The weights of Super-ER's terms and what they need besides the batch. */
export interface SuperExperienceReplayLossOptions {
  derAlpha: number;
  derBeta: number;
  clsAlpha: number;
  podAlpha: number;
  lossFn: LossFunction;
  /** The distilled layers (undefined: no POD term, targets hold no features). */
  layout: PodLayout | undefined;
  pod: PodSettings;
  normalizeLoss: boolean;
  /** Logit columns the MSE terms cover (maskUnusedClasses); all when undefined. */
  scoredClasses?: readonly number[] | undefined;
}

/**
 * Per-row Super-ER loss whose batch MEAN is the objective in the file
 * comment. `targets` rows are [role, stored logits (C), stored features
 * (layout.width, when there is a layout)] as replaySource builds them: role
 * CHUNK_ROLE rows enter the new-data CE, role 1 rows the logit MSE, role 2
 * rows the memory CE and the consistency MSE against `consistency` (one row
 * per role-2 row, in order; those rows are contiguous from row
 * `consistencyStart`), role 3 rows the POD term against `activations`.
 * Each term is a mean over its own rows (0 without rows); MSEs average over
 * the scored classes too, as PyTorch's mse_loss.
 */
export function superExperienceReplayLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targets: tf.Tensor2D,
  activations: readonly tf.Tensor[],
  consistency: { targets: tf.Tensor2D; start: number } | undefined,
  options: SuperExperienceReplayLossOptions,
): tf.Tensor1D {
  const [rows, classes] = logits.shape;
  const featureWidth = options.layout?.width ?? 0;
  if (targets.shape[0] !== rows || targets.shape[1] !== 1 + classes + featureWidth) {
    throw new RangeError(`superExperienceReplayLoss: targets must be [${rows}, ${1 + classes + featureWidth}] (role + logits + features), got [${targets.shape}]`);
  }
  return tf.tidy(() => {
    const role = tf.squeeze(tf.slice(targets, [0, 0], [rows, 1]), [1]) as tf.Tensor1D;
    const der = darkExperienceReplayLoss(logits, labels, tf.slice(targets, [0, 0], [rows, 1 + classes]), {
      alpha: options.derAlpha,
      beta: options.derBeta,
      lossFn: options.lossFn,
      scoredClasses: options.scoredClasses,
    });
    let loss: tf.Tensor = der;
    if (consistency !== undefined && options.clsAlpha > 0) {
      const { targets: wanted, start } = consistency;
      const n = wanted.shape[0];
      const perRow = logitMeanSquaredError(tf.slice(logits, [start, 0], [n, classes]), wanted, options.scoredClasses);
      const placed = tf.concat([tf.zeros([start]), perRow, tf.zeros([rows - start - n])]);
      loss = tf.add(loss, tf.mul(placed, termRowWeights(role, [{ role: LABEL_ROLE, weight: options.clsAlpha }], "paper")));
    }
    if (options.layout !== undefined && options.podAlpha > 0) {
      const features = tf.slice(targets, [0, 1 + classes], [rows, featureWidth]);
      loss = tf.add(loss, tf.mul(podLoss(activations, features, options.layout, options.pod), termRowWeights(role, [{ role: POD_ROLE, weight: options.podAlpha }], "paper")));
    }
    if (!options.normalizeLoss) return loss as tf.Tensor1D;
    const present = tf.minimum(tf.sum(tf.cast(tf.notEqual(role, CHUNK_ROLE), "float32")), 1);
    const weights = options.derAlpha + options.derBeta + options.clsAlpha + (options.layout === undefined ? 0 : options.podAlpha);
    return tf.div(loss, tf.add(1, tf.mul(present, weights))) as tf.Tensor1D;
  });
}

export class SuperExperienceReplayModelUpdater extends MemoryModelUpdater {
  readonly kind = "super-er";
  static override readonly optionsSchema: UpdaterOptionsSchema = superExperienceReplayOptionsSchema;
  readonly memoryBatchSize: number;
  readonly derAlpha: number;
  readonly derBeta: number;
  readonly clsAlpha: number;
  readonly podAlpha: number;
  readonly podLayers: readonly string[];
  readonly pod: PodSettings;
  readonly shrinkPerturb: ShrinkPerturbSettings;
  readonly normalizeLoss: boolean;
  /** CLS-ER's stable and plastic models. */
  readonly emaModels: ClsEmaModels;
  private readonly settings: z.output<typeof superExperienceReplayOptionsSchema>;

  constructor(options: SuperExperienceReplayOptions) {
    const resolved = resolveOptions(superExperienceReplayOptionsSchema, options, "SuperExperienceReplayModelUpdater");
    const invalid = (message: string) => new OptionsError(`invalid SuperExperienceReplayModelUpdater options: ${message}`);
    if (resolved.podAlpha > 0 && resolved.podLayers.length === 0) {
      throw invalid(
        "podLayers must name at least one body layer whose outputs are distilled (e.g. [\"dense_0_relu\"] for an mlp spec; " +
          "ContinualModel.bodyLayerNames() lists them; CLI benchmark: --pod-layers), or set podAlpha to 0 to drop the POD term",
      );
    }
    const cls = {
      stableModelUpdateWeight: resolved.clsStableModelUpdateWeight,
      plasticModelUpdateWeight: resolved.clsPlasticModelUpdateWeight,
      stableModelUpdateProbability: resolved.clsStableModelUpdateProbability,
      plasticModelUpdateProbability: resolved.clsPlasticModelUpdateProbability,
    };
    const problem = clsEmaSettingsProblem(cls, (key) => `cls${key[0]!.toUpperCase()}${key.slice(1)}`);
    if (problem !== undefined) throw invalid(problem);
    super(resolved, "reservoir");
    this.settings = resolved;
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
    this.derAlpha = resolved.derAlpha;
    this.derBeta = resolved.derBeta;
    this.clsAlpha = resolved.clsAlpha;
    this.podAlpha = resolved.podAlpha;
    this.podLayers = resolved.podAlpha > 0 ? resolved.podLayers : [];
    this.pod = { distillationType: resolved.podDistillationType, normalize: resolved.podNormalize };
    this.shrinkPerturb = { shrinkFactor: resolved.spShrinkFactor, sigma: resolved.spSigma };
    this.normalizeLoss = resolved.normalizeLoss;
    this.emaModels = new ClsEmaModels(cls);
  }

  override async checkPlan({ taskId }: UpdatePlan): Promise<void> {
    if (this.podLayers.length > 0) resolvePodLayout(this.model, taskId, this.podLayers, this.pod, "podDistillationType");
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    const model = this.model;
    const layout = this.podLayers.length > 0 ? resolvePodLayout(model, taskId, this.podLayers, this.pod, "podDistillationType") : undefined;
    // The averages start from the model as it was before shrink-and-perturb (Renate copies it when the learner is built).
    this.emaModels.begin(model);
    // It makes room for the training that follows: with no epoch to run (maxEpochs 0) it would only damage the model.
    if (o.maxEpochs > 0) shrinkAndPerturb(model.trainableVariables(model.taskIds()), this.shrinkPerturb, this.phaseSeed("shrink-perturb"));
    const gates = Random.fromSeed(this.phaseSeed("ema-gates"));
    const stream = new StreamTracker(chunk.length);
    const offer = async (indices: Int32Array) => {
      if (indices.length === 0) return;
      const items = subsetDataset(chunk, indices);
      const read = { transform: o.testTransform };
      const logits = await extractLogitsArray(model, items, o.batchSize, taskId, read);
      const metadata = { [LOGITS]: { values: logits.values, rowShape: [logits.width] } };
      if (layout !== undefined) {
        const features = await extractActivationsArray(model, items, o.batchSize, taskId, this.podLayers, read);
        Object.assign(metadata, { [POD_FEATURES]: { values: features.values, rowShape: [features.width] } });
      }
      this.memory.add(items, metadata, taskId);
    };
    const columns: MemoryTargets[] = [{ key: LOGITS, width: model.numClasses }, ...(layout === undefined ? [] : [{ key: POD_FEATURES, width: layout.width }])];
    const batches = layout === undefined ? 2 : 3;
    const { data, current } = trackReplayRows(
      this.replayBatches(chunk, taskId, Array<number>(batches).fill(this.memoryBatchSize), {
        memoryTargets: columns,
        afterStep: async (indices: Int32Array) => {
          await offer(stream.take(indices));
          this.emaModels.afterStep(model, gates);
        },
      }),
    );
    const scoredClasses = o.maskUnusedClasses ? classesSeen(chunk, this.memory) : undefined;
    const lossOptions: SuperExperienceReplayLossOptions = {
      derAlpha: this.derAlpha,
      derBeta: this.derBeta,
      clsAlpha: this.clsAlpha,
      podAlpha: this.podAlpha,
      lossFn: this.lossFn,
      layout,
      pod: this.pod,
      normalizeLoss: this.normalizeLoss,
      scoredClasses,
    };
    // Runs inside the loop's gradient scope, which frees the consistency targets after the step.
    const loss: BatchLoss = (logits, batch, activations) => {
      const { chunkRows } = current();
      const perBatch = (logits.shape[0] - chunkRows) / batches;
      const start = chunkRows + perBatch;
      const consistency =
        perBatch > 0 && this.clsAlpha > 0
          ? {
              targets: this.emaModels.targets(tf.slice(batch.x, [start], [perBatch]), rowsOf(batch.tasks, start, perBatch, taskId), tf.slice(batch.labels, [start], [perBatch])),
              start,
            }
          : undefined;
      return superExperienceReplayLoss(logits, batch.labels, batch.targets!, activations, consistency, lossOptions);
    };
    await this.train({
      phase: this.kind,
      model,
      taskId,
      data,
      loss,
      activations: this.podLayers,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: scoredClasses,
    });
    await offer(stream.takeRest());
  }

  /** The averages of this update become the kept ones. */
  protected override commitUpdate(): void {
    this.emaModels.end();
  }

  /** A failed update keeps the averages of the last good one. */
  protected override abandonUpdate(): void {
    this.emaModels.abandon();
  }

  /** Frees the averaged models' weights (ModelUpdater.dispose frees the model). */
  protected override disposeAlgorithmState(): void {
    this.emaModels.dispose();
  }

  /** New classes: stored logit rows get the row's lowest logit (stored_logits.ts); the averages grow in begin(). */
  protected override onClassesGrown(classes: number): void {
    widenStoredLogits(this.memory, LOGITS, classes);
  }

  protected override async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    const out = { ...(await super.saveAlgorithmState(files)), podLayers: [...this.podLayers] };
    const cls = await this.emaModels.save(files, CLS_FOLDER);
    return cls === undefined ? out : { ...out, cls };
  }

  /** The stored features are those of the state's podLayers: resuming with other layers is refused. */
  protected override async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    const stored = data["podLayers"];
    if (!Array.isArray(stored) || stored.length !== this.podLayers.length || stored.some((name, i) => name !== this.podLayers[i])) {
      throw new StateError(
        `${files.location}: its memory holds the outputs of layers ${JSON.stringify(stored)}, but this updater distils ` +
          `${JSON.stringify(this.podLayers)} (podLayers, podAlpha); resume with the state's, or start a new state`,
      );
    }
    await super.loadAlgorithmState(files, data);
    await this.emaModels.load(files, CLS_FOLDER, data["cls"], this.model);
  }

  protected algorithmOptions(): Record<string, unknown> {
    const s = this.settings;
    return {
      memorySize: this.memorySize,
      memoryBatchSize: this.memoryBatchSize,
      derAlpha: s.derAlpha,
      derBeta: s.derBeta,
      spShrinkFactor: s.spShrinkFactor,
      spSigma: s.spSigma,
      clsAlpha: s.clsAlpha,
      clsStableModelUpdateWeight: s.clsStableModelUpdateWeight,
      clsPlasticModelUpdateWeight: s.clsPlasticModelUpdateWeight,
      clsStableModelUpdateProbability: s.clsStableModelUpdateProbability,
      clsPlasticModelUpdateProbability: s.clsPlasticModelUpdateProbability,
      podAlpha: s.podAlpha,
      podLayers: [...this.podLayers],
      podDistillationType: s.podDistillationType,
      podNormalize: s.podNormalize,
      normalizeLoss: s.normalizeLoss,
    };
  }
}

/** The tasks of rows [start, start + n) of a batch: its RowTasks' slice, or its one task id. */
function rowsOf(tasks: RowTasks | undefined, start: number, n: number, taskId: string): string | RowTasks {
  return tasks === undefined ? taskId : { taskIds: tasks.taskIds, rows: tasks.rows.subarray(start, start + n) };
}
