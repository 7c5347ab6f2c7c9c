/**
 * POD-ER: experience replay with pooled outputs distillation (Douillard et
 * al., ECCV 2020, "PODNet"), as Renate's
 * PooledOutputDistillationExperienceReplayLearner
 * (src/renate/updaters/experimental/er.py) combines them. A reservoir memory
 * stores each item with the outputs of the layers the user names
 * (`layers`), taken when the item streamed in; every step minimises
 *   (CE(new batch) + alpha * POD(memory batch) + beta * CE(memory batch)) / (1 + alpha + beta)
 * with POD the pooled distance between the layers' current outputs and the
 * stored ones (pooled_output_distillation.ts). Renate's defaults: alpha 1,
 * distillationType "spatial", normalize true, the sum divided by the sum of
 * the weights (Renate's loss_normalization; the memory terms and their
 * weights count only once the memory holds items).
 *
 * beta, the memory cross-entropy, defaults to 1 where Renate's POD-ER has
 * none: PODNet trains its classifier on the new data and the memory
 * exemplars together, and without any label on old classes the head
 * forgets them whatever the features keep (the blobs forgetting test:
 * old-task accuracy 0.245 with beta 0, below fine-tuning's 0.46; 1.0 with
 * beta 1, Renate's ER weight). beta 0 is Renate's POD-ER exactly.
 *
 * Layers are named by the model's body layer names
 * (ContinualModel.bodyLayerNames(): for a spec model e.g. dense_0_relu, the
 * output of the first hidden layer); an unknown name is an OptionsError
 * listing them. No layer named is an OptionsError at construction: Renate
 * then divides a zero loss by zero layers and trains on NaN.
 *
 * Streaming and stored features as DER++ in relearn (dark_experience_replay.ts):
 * after each step of the first epoch the step's new items are offered to the
 * reservoir with the layers' outputs of the model right after that step, in
 * inference mode on test-transformed inputs (Renate stores the training
 * step's outputs). Multi-head models: the distilled layers are body layers,
 * shared by every head, so memory items of any task are distilled alike.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { subsetDataset } from "../data/dataset_ops.js";
import { OptionsError, StateError } from "../errors.js";
import { DEFAULT_TASK_ID, type ContinualModel } from "../model/continual_model.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { extractActivationsArray } from "../training/activations.js";
import type { LossFunction } from "../training/losses.js";
import type { BatchLoss } from "../training/loop.js";
import { termRowWeights } from "./loss_normalization.js";
import { MemoryModelUpdater } from "./memory_updater.js";
import type { UpdatePlan } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import { POD_DISTILLATION_TYPES, podLayout, podLoss, type PodDistillationType, type PodLayout, type PodSettings } from "./pooled_output_distillation.js";
import { CHUNK_ROLE, classesSeen, StreamTracker } from "./replay_source.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

/** The memory column of the stored layer outputs. */
export const POD_FEATURES = "features";
const MEMORY_ROLE = 1;

const LAYERS_NEEDED =
  "layers must name at least one body layer whose outputs are distilled (e.g. [\"dense_0_relu\"] for an mlp spec; " +
  "ContinualModel.bodyLayerNames() lists them; CLI benchmark: --pod-layers): with none there is nothing to distil";

/** `layers`: at least one name (Renate with none divides 0 by 0). */
export const podLayersSchema = z.array(z.string().min(1), { error: LAYERS_NEEDED }).min(1, { error: LAYERS_NEEDED });

export const podExperienceReplayOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
  memoryBatchSize: z.number().int().positive().optional(),
  layers: podLayersSchema,
  alpha: z.number().min(0).default(1),
  beta: z.number().min(0).default(1),
  distillationType: z.enum(POD_DISTILLATION_TYPES).default("spatial"),
  normalize: z.boolean().default(true),
  normalizeLoss: z.boolean().default(true),
});

export interface PodExperienceReplayOptions extends ModelUpdaterOptions {
  /** Capacity of the reservoir memory (items). */
  memorySize: number;
  /** Memory items appended to every batch; default batchSize. */
  memoryBatchSize?: number | undefined;
  /** Body layers whose outputs are stored and distilled (ContinualModel.bodyLayerNames()); at least one. */
  layers: readonly string[];
  /** Weight of the POD term; default 1 (Renate). */
  alpha?: number | undefined;
  /** Weight of the memory cross-entropy; default 1 (PODNet trains on the memory; 0 is Renate's POD-ER, see above). */
  beta?: number | undefined;
  /** How each layer's output is pooled; default "spatial" (Renate), which needs feature maps: use "pixel" on an MLP. */
  distillationType?: PodDistillationType | undefined;
  /** L2-normalise each pooled row before the distance; default true (Renate). */
  normalize?: boolean | undefined;
  /** Divide the summed loss by the sum of its weights, as Renate does; default true. */
  normalizeLoss?: boolean | undefined;
}

/**
 * The layout of `layers` in `model` (outputs found by one inference pass of
 * a zero item), checked: an unknown name is an OptionsError listing the body
 * layers, a pooling the outputs do not allow one naming the layer.
 */
export function resolvePodLayout(model: ContinualModel, taskId: string, layers: readonly string[], settings: PodSettings, option: string): PodLayout {
  const known = model.bodyLayerNames();
  const unknown = layers.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new OptionsError(
      `layers: the model has no body layer named ${unknown.map((n) => `"${n}"`).join(", ")}; its body layers are: ${known.join(", ")}`,
    );
  }
  const shapes = tf.tidy(() => {
    const { activations } = model.getLogitsAndActivations(tf.zeros([1, ...model.inputShape]), taskId, false, layers);
    return activations.map((a) => a.shape.slice(1));
  });
  return podLayout(layers, shapes, settings, option);
}

/**
 * A starting choice of POD layers for `model`, for a config that names none (`relearn init --updater pod-er`): the
 * last body layer with a feature map [H, W, C] and Renate's "spatial" pooling, or, without feature maps (an MLP),
 * the last body layer that is not a dropout, flatten or batch norm, with "pixel" (spatial pooling needs a map).
 * Undefined for a model without body layers. Both are checked by resolvePodLayout.
 */
export function suggestPodLayers(model: ContinualModel): { layers: string[]; distillationType: PodDistillationType } | undefined {
  const names = model.bodyLayerNames().filter((name) => !/(_dropout|_batch_norm|^flatten)$/.test(name));
  if (names.length === 0) return undefined;
  const ranks = tf.tidy(() => {
    const taskId = model.taskIds()[0] ?? DEFAULT_TASK_ID;
    const { activations } = model.getLogitsAndActivations(tf.zeros([1, ...model.inputShape]), taskId, false, names);
    return activations.map((a) => a.rank - 1);
  });
  const maps = names.filter((_, i) => ranks[i] === 3);
  if (maps.length > 0) return { layers: [maps.at(-1)!], distillationType: "spatial" };
  return { layers: [names.at(-1)!], distillationType: "pixel" };
}

/**
 * Per-row POD-ER loss whose batch MEAN is the POD-ER objective. `targets`
 * rows are [role, stored features...] (replaySource with memoryTargets):
 * CHUNK_ROLE rows enter the new-data CE, role 1 rows the POD term and the
 * memory CE (each term a mean over its own rows, 0 without rows); with
 * `normalizeLoss` everything is divided by 1 plus the weights of the
 * memory terms present.
 */
export function podExperienceReplayLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targets: tf.Tensor2D,
  activations: readonly tf.Tensor[],
  options: { alpha: number; beta: number; lossFn: LossFunction; layout: PodLayout; pod: PodSettings; normalizeLoss: boolean },
): tf.Tensor1D {
  const rows = logits.shape[0];
  if (targets.shape[0] !== rows || targets.shape[1] !== options.layout.width + 1) {
    throw new RangeError(`podExperienceReplayLoss: targets must be [${rows}, ${options.layout.width + 1}] (role + features), got [${targets.shape}]`);
  }
  return tf.tidy(() => {
    const role = tf.squeeze(tf.slice(targets, [0, 0], [rows, 1]), [1]) as tf.Tensor1D;
    const stored = tf.slice(targets, [0, 1], [rows, options.layout.width]);
    const ce = options.lossFn(logits, labels);
    const pod = podLoss(activations, stored, options.layout, options.pod);
    const memory = termRowWeights(role, [{ role: MEMORY_ROLE, weight: 1 }], "paper");
    const loss = tf.add(
      tf.mul(ce, tf.add(termRowWeights(role, [{ role: CHUNK_ROLE, weight: 1 }], "paper"), tf.mul(memory, options.beta))),
      tf.mul(pod, tf.mul(memory, options.alpha)),
    );
    if (!options.normalizeLoss) return loss as tf.Tensor1D;
    const present = tf.minimum(tf.sum(tf.cast(tf.equal(role, MEMORY_ROLE), "float32")), 1);
    return tf.div(loss, tf.add(1, tf.mul(present, options.alpha + options.beta))) as tf.Tensor1D;
  });
}

export class PodExperienceReplayModelUpdater extends MemoryModelUpdater {
  readonly kind = "pod-er";
  static override readonly optionsSchema: UpdaterOptionsSchema = podExperienceReplayOptionsSchema;
  readonly memoryBatchSize: number;
  readonly layers: readonly string[];
  readonly alpha: number;
  readonly beta: number;
  readonly pod: PodSettings;
  readonly normalizeLoss: boolean;

  constructor(options: PodExperienceReplayOptions) {
    const resolved = resolveOptions(podExperienceReplayOptionsSchema, options, "PodExperienceReplayModelUpdater");
    super(resolved, "reservoir");
    this.memoryBatchSize = resolved.memoryBatchSize ?? resolved.batchSize;
    this.layers = resolved.layers;
    this.alpha = resolved.alpha;
    this.beta = resolved.beta;
    this.pod = { distillationType: resolved.distillationType, normalize: resolved.normalize };
    this.normalizeLoss = resolved.normalizeLoss;
  }

  override async checkPlan({ taskId }: UpdatePlan): Promise<void> {
    resolvePodLayout(this.model, taskId, this.layers, this.pod, "distillationType");
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    const model = this.model;
    const layout = resolvePodLayout(model, taskId, this.layers, this.pod, "distillationType");
    const stream = new StreamTracker(chunk.length);
    const offer = async (indices: Int32Array) => {
      if (indices.length === 0) return;
      const items = subsetDataset(chunk, indices);
      const features = await extractActivationsArray(model, items, o.batchSize, taskId, this.layers, { transform: o.testTransform });
      this.memory.add(items, { [POD_FEATURES]: { values: features.values, rowShape: [features.width] } }, taskId);
    };
    const settings = { alpha: this.alpha, beta: this.beta, lossFn: this.lossFn, layout, pod: this.pod, normalizeLoss: this.normalizeLoss };
    const loss: BatchLoss = (logits, batch, activations) => podExperienceReplayLoss(logits, batch.labels, batch.targets!, activations, settings);
    await this.train({
      phase: this.kind,
      model,
      taskId,
      data: this.replayBatches(chunk, taskId, [this.memoryBatchSize], {
        memoryTargets: { key: POD_FEATURES, width: layout.width },
        afterStep: (indices) => offer(stream.take(indices)),
      }),
      loss,
      activations: this.layers,
      batchSize: o.batchSize,
      epochs: o.maxEpochs,
      allowedClasses: o.maskUnusedClasses ? classesSeen(chunk, this.memory) : undefined,
    });
    await offer(stream.takeRest());
  }

  protected override async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    return { ...(await super.saveAlgorithmState(files)), layers: [...this.layers] };
  }

  /** The stored features are those of the state's layers: resuming with other layers is refused. */
  protected override async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    const stored = data["layers"];
    if (!Array.isArray(stored) || stored.length !== this.layers.length || stored.some((name, i) => name !== this.layers[i])) {
      throw new StateError(
        `${files.location}: its memory holds the outputs of layers ${JSON.stringify(stored)}, but this updater distils ` +
          `${JSON.stringify(this.layers)}; resume with the state's layers, or start a new state`,
      );
    }
    await super.loadAlgorithmState(files, data);
  }

  protected algorithmOptions(): Record<string, unknown> {
    return {
      memorySize: this.memorySize,
      memoryBatchSize: this.memoryBatchSize,
      layers: [...this.layers],
      alpha: this.alpha,
      beta: this.beta,
      distillationType: this.pod.distillationType,
      normalize: this.pod.normalize,
      normalizeLoss: this.normalizeLoss,
    };
  }
}
