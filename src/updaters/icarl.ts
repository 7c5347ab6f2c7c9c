/**
 * iCaRL (Rebuffi et al., CVPR 2017, "iCaRL: Incremental Classifier and
 * Representation Learning"; Renate's Avalanche-iCaRL, which wraps
 * Avalanche's ICaRL strategy with fixed_memory = true). Per update:
 *   1. train the model on the chunk plus every exemplar with iCaRL's loss
 *      (icarl_loss.ts): sigmoid binary cross-entropy on one-hot labels, the
 *      old classes' targets being the previous model's sigmoid outputs (the
 *      previous model is the model as the last update left it, i.e. as the
 *      state stores it, so nothing extra is saved for it);
 *   2. exemplars: the budget memorySize is split equally over the classes
 *      seen, m = floor(memorySize / classes seen); each class of the chunk
 *      gets m exemplars chosen by herding (herding.ts) on the model's
 *      penultimate-layer features (ContinualModel.getFeatures, inference
 *      mode, test transform); every other class keeps its first m;
 *   3. class means of every class from its exemplars' features
 *      (nearest_class_mean.ts): iCaRL PREDICTS by nearest class mean, not by
 *      the logits. Use predict(model, x, { classMeans: updater.classMeans });
 *      `relearn predict`, `evaluate` and `benchmark` do so for iCaRL states.
 *
 * Defaults from Renate: memorySize (required), batch size, epochs and
 * optimizer the common ones; Renate applies no buffer transform (its TODO),
 * here exemplars get bufferTransform (default: the train transform) as in
 * every relearn replay updater.
 *
 * Deliberate differences from Avalanche (and so Renate):
 * - m = floor(memorySize / classes) (the paper's K/t), never more than the
 *   budget; Avalanche takes the ceiling (500 items over 6 classes: 504).
 *   Fewer items than classes is an OptionsError, since a class without an
 *   exemplar has no mean and could never be predicted.
 * - herding never picks an item twice and always returns m items (herding.ts);
 * - class means are not averaged with flipped images (nearest_class_mean.ts);
 * - a class without a mean is never predicted (Avalanche scores a zero mean);
 * - a class seen again in a later chunk is re-herded from its old exemplars
 *   plus its new items (Avalanche assumes each class comes once).
 * Validation during training measures the sigmoid classifier (logits); the
 * class means only exist once the update's exemplars are chosen.
 *
 * Single-head only: NCM classifies by the shared features, whatever the task
 * (a multi-head model is a ModelError), and a LayersModel given whole has no
 * penultimate layer to read (a ModelError: use a ModelSpec).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import type { Dataset } from "../data/dataset.js";
import { classesPresent, concatDatasets, filterByClasses, subsetDataset } from "../data/dataset_ops.js";
import type { RowTransforms } from "../data/transforms.js";
import { ModelError, OptionsError } from "../errors.js";
import { herdingSelection } from "../memory/herding.js";
import type { ContinualModel } from "../model/continual_model.js";
import { computeClassMeans, type ClassMeans } from "../model/nearest_class_mean.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { datasetSource, type Batch, type BatchSource } from "../training/batch_source.js";
import { extractFeaturesArray } from "../training/features.js";
import type { BatchLoss } from "../training/loop.js";
import { predict } from "../training/predict.js";
import { icarlLoss } from "./icarl_loss.js";
import { ICARL_KIND, loadICaRLState, saveICaRLState } from "./icarl_state.js";
import { ModelUpdater, type OutputCheck, type UpdatePlan } from "./model_updater.js";
import { resolveOptions, updaterOptionsSchema, type ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";

/** The phase that scores the nearest-class-mean prediction on the validation sets after training. */
export const NCM_PHASE = "nearest-class-mean";

export const icarlOptionsSchema = updaterOptionsSchema.extend({
  memorySize: z.number().int().positive(),
});

export interface ICaRLOptions extends ModelUpdaterOptions {
  /** Exemplars kept over all classes (iCaRL's K), split equally over the classes seen. */
  memorySize: number;
}

export class ICaRLModelUpdater extends ModelUpdater {
  readonly kind = ICARL_KIND;
  static override readonly optionsSchema: UpdaterOptionsSchema = icarlOptionsSchema;
  readonly memorySize: number;
  /** Exemplars grouped by class (ascending), each class in herding order; undefined before the first update. */
  private exemplarSet: Dataset | undefined;
  private means: ClassMeans | undefined;

  constructor(options: ICaRLOptions) {
    const resolved = resolveOptions(icarlOptionsSchema, options, "ICaRLModelUpdater");
    super(resolved);
    this.memorySize = resolved.memorySize;
    if (resolved.lossFn !== undefined) {
      this.logger.warn("iCaRL trains with its own loss (sigmoid cross-entropy with distillation); lossFn only scores the validation sets");
    }
  }

  /** The exemplars (grouped by class, each class in herding order); undefined before the first update. */
  get exemplars(): Dataset | undefined {
    return this.exemplarSet;
  }

  /** iCaRL predicts by nearest class mean: these means (undefined before the first update). */
  override get classMeans(): ClassMeans | undefined {
    return this.means;
  }

  override async checkPlan({ classes }: UpdatePlan): Promise<void> {
    this.requireExemplarPerClass(classes, "the updates bring");
  }

  /** iCaRL's class means need an exemplar of every class: memorySize >= classes. */
  private requireExemplarPerClass(classes: number, which: string): void {
    if (this.memorySize >= classes) return;
    throw new OptionsError(
      `memorySize ${this.memorySize} is smaller than the ${classes} classes ${which}: iCaRL needs at least one exemplar ` +
        `per class to compute its mean. Raise memorySize to at least ${classes}`,
    );
  }

  override async prepare(): Promise<void> {
    await super.prepare();
    const model = this.model;
    if (model.multiHead) {
      throw new ModelError(
        "iCaRL needs a single-head model: it predicts by the nearest class mean of the shared features, which knows no task. " +
          "Use a single-head model (multiHead: false), or another updater for task-incremental learning",
      );
    }
    if (model.spec === undefined) {
      throw new ModelError(
        "iCaRL needs the features of the layer before the output layer (herding and class means read them), but a tfjs " +
          "LayersModel given whole is taken as logits only. Give a ModelSpec (mlp(), cnn()) instead",
      );
    }
  }

  protected async performUpdate(chunk: Dataset, taskId: string): Promise<void> {
    const o = this.options;
    const model = this.model;
    const oldClasses = this.exemplarSet ? classesPresent(this.exemplarSet) : [];
    const seen = [...new Set([...oldClasses, ...classesPresent(chunk)])].sort((a, b) => a - b);
    this.requireExemplarPerClass(seen.length, "seen");
    const perClass = Math.floor(this.memorySize / seen.length);
    const previous = oldClasses.length > 0 ? copyOf(model, this.phaseSeed("previous-model")) : undefined;
    try {
      const loss: BatchLoss = (logits, batch) =>
        tf.tidy(() => icarlLoss(logits, batch.labels, previous ? previous.getLogits(batch.x, taskId, false) : null, oldClasses));
      await this.train({
        phase: ICARL_KIND,
        model,
        taskId,
        data: this.exemplarSet ? withExemplars(chunk, this.exemplarSet, this.trainTransforms, this.bufferTransforms) : datasetSource(chunk, this.trainTransforms),
        loss,
        batchSize: o.batchSize,
        epochs: o.maxEpochs,
        allowedClasses: o.maskUnusedClasses ? seen : undefined,
      });
    } finally {
      previous?.dispose();
    }
    // Herding reads the trained model's features: a diverged model must fail as in every updater, not in herding.
    await this.assertTrainedModelFinite(chunk, taskId);
    this.exemplarSet = await this.selectExemplars(chunk, seen, perClass);
    const { values, width } = await extractFeaturesArray(model, this.exemplarSet, o.batchSize, { transform: o.testTransform });
    this.means = computeClassMeans(values, this.exemplarSet.labels, width);
    // The training phase validated the logits; iCaRL predicts by nearest class mean, so that is scored too: the last
    // phase's val_accuracy, which summaries and tuning read (tester H, H13). No val_loss: class means give no loss.
    const means = this.means;
    await this.validateAsPhaseWith(NCM_PHASE, async (sets) => {
      // Pooled over the sets, as the loop's validation is: each set's accuracy weighted by its size.
      let correct = 0;
      let total = 0;
      for (const { dataset } of sets) {
        const { classes } = await predict(model, dataset, { classMeans: means, transform: o.testTransform, batchSize: o.batchSize });
        // Counted, not accuracy() x size: the pooled value stays an exact ratio of counts.
        for (let i = 0; i < classes.length; i++) if (classes[i] === dataset.labels[i]) correct++;
        total += classes.length;
      }
      return { val_accuracy: correct / total };
    });
  }

  /**
   * The new exemplar set: for each class seen (ascending), m items by herding among its current exemplars and its
   * items in the chunk when the chunk has any, else its first m exemplars (iCaRL's ReduceExemplarSet).
   */
  private async selectExemplars(chunk: Dataset, seen: readonly number[], perClass: number): Promise<Dataset> {
    const o = this.options;
    const numClasses = this.model.numClasses;
    const inChunk = new Set(classesPresent(chunk));
    const groups: Dataset[] = [];
    for (const c of seen) {
      const kept = this.exemplarSet && c < this.exemplarSet.numClasses ? filterByClasses(this.exemplarSet, [c]) : undefined;
      if (!inChunk.has(c)) {
        groups.push(subsetDataset(kept!, Int32Array.from({ length: Math.min(perClass, kept!.length) }, (_, i) => i)));
        continue;
      }
      const fresh = filterByClasses(chunk, [c]);
      const candidates = kept !== undefined && kept.length > 0 ? concatDatasets([kept, fresh]) : fresh;
      const { values, width } = await extractFeaturesArray(this.model, candidates, o.batchSize, { transform: o.testTransform });
      groups.push(subsetDataset(candidates, herdingSelection(values, candidates.length, width, perClass)));
    }
    return { ...concatDatasets(groups), numClasses };
  }

  /** The chunk and the exemplars must give finite outputs. */
  protected override outputChecks(trainDataset: Dataset, taskId: string): OutputCheck[] {
    const checks = super.outputChecks(trainDataset, taskId);
    if (this.exemplarSet) checks.push({ data: this.exemplarSet, tasks: taskId, what: "the exemplars" });
    return checks;
  }

  /** New classes: the exemplars' label space follows the model's (means are kept per class id). */
  protected override onClassesGrown(classes: number): void {
    if (this.exemplarSet) this.exemplarSet = { ...this.exemplarSet, numClasses: classes };
  }

  protected async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    return saveICaRLState(files, { exemplars: this.exemplarSet, classMeans: this.means });
  }

  protected async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    const state = await loadICaRLState(files, data);
    this.exemplarSet = state.exemplars;
    this.means = state.classMeans;
  }

  protected algorithmOptions(): Record<string, unknown> {
    return { memorySize: this.memorySize };
  }
}

/** A frozen copy of `model` (same weights; `seed` only seeds the clone's unused fresh draw). */
function copyOf(model: ContinualModel, seed: number): ContinualModel {
  const copy = model.cloneFresh(seed);
  const weights = model.snapshotWeights();
  try {
    copy.restoreWeights(weights);
  } finally {
    tf.dispose(weights);
  }
  return copy;
}

/**
 * The chunk followed by the exemplars as one BatchSource: indices below the
 * chunk's length are chunk items (train transforms), the rest exemplars
 * (buffer transforms), as Avalanche concatenates its memory to the dataset.
 */
function withExemplars(chunk: Dataset, exemplars: Dataset, chunkTransforms: RowTransforms, exemplarTransforms: RowTransforms): BatchSource {
  const all = concatDatasets([chunk, exemplars]);
  const ofChunk = datasetSource(all, chunkTransforms);
  const ofExemplars = datasetSource(all, exemplarTransforms);
  return {
    length: all.length,
    featureShape: all.featureShape,
    numClasses: all.numClasses,
    gather(indices, random): Batch {
      const fromChunk = indices.filter((i) => i < chunk.length);
      const fromExemplars = indices.filter((i) => i >= chunk.length);
      if (fromExemplars.length === 0) return ofChunk.gather(indices, random);
      if (fromChunk.length === 0) return ofExemplars.gather(indices, random);
      const a = ofChunk.gather(fromChunk, random);
      const b = ofExemplars.gather(fromExemplars, random);
      const features = new Float32Array(a.features.length + b.features.length);
      features.set(a.features);
      features.set(b.features, a.features.length);
      const labels = new Int32Array(a.labels.length + b.labels.length);
      labels.set(a.labels);
      labels.set(b.labels, a.labels.length);
      return { features, labels };
    },
  };
}
