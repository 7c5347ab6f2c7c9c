/**
 * Predictions of a model over a dataset in inference mode: arg-max classes,
 * and softmax probabilities when asked. Read back once per batch-pass, never
 * per sample. With class means (an iCaRL state's, nearest_class_mean.ts) the
 * scores are nearest-class-mean scores of the model's features instead of its logits.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createDataset, type Dataset, type UnlabelledSamples } from "../data/dataset.js";
import type { FeatureTransform } from "../data/transforms.js";
import { DEFAULT_TASK_ID, type ContinualModel } from "../model/continual_model.js";
import { ModelError } from "../errors.js";
import { nearestClassMeanScores, type ClassMeans } from "../model/nearest_class_mean.js";
import { batchedRows, describeRows, extractLogits, nonFiniteRows } from "./logits.js";

export interface Predictions {
  /** Arg-max class per item. */
  classes: Int32Array;
  /** Softmax probabilities, N x C row-major (only with `probabilities: true`). */
  probabilities?: Float32Array;
  numClasses: number;
}

/** Options of {@link predict}. */
export interface PredictOptions {
  taskId?: string;
  batchSize?: number;
  transform?: FeatureTransform | undefined;
  probabilities?: boolean;
  /**
   * Predict by nearest class mean (iCaRL: ICaRLModelUpdater.classMeans, or an iCaRL state's, see
   * loadStateModel) instead of by the logits: the class whose mean is nearest to the item's normalised features;
   * `taskId` is then not used (the features come from the shared body). Probabilities are the softmax of the
   * negative distances over the classes with a mean (0 for the others): they rank the classes but are not
   * calibrated (distances lie in [0, 2]).
   */
  classMeans?: ClassMeans | undefined;
}

/**
 * Predicted classes (and optionally probabilities) for every item, in order; labels, if any, are not read.
 * A ModelError naming the rows when any row's logits are NaN or infinite (no answer is given for any row).
 */
export async function predict(model: ContinualModel, samples: Dataset | UnlabelledSamples, options: PredictOptions = {}): Promise<Predictions> {
  const dataset = withPlaceholderLabels(samples, model.numClasses);
  const batchSize = options.batchSize ?? 256;
  const means = options.classMeans;
  const beyond = means?.classes.find((c) => !Number.isInteger(c) || c < 0 || c >= model.numClasses);
  if (beyond !== undefined) throw new ModelError(`the class means include class ${beyond}, but the model has ${model.numClasses} classes`);
  const logits = means
    ? nearestClassMeanScoresOf(model, means, dataset, batchSize, options.transform)
    : extractLogits(model, dataset, batchSize, options.taskId ?? DEFAULT_TASK_ID, { transform: options.transform });
  try {
    const broken = await nonFiniteRows(logits);
    if (broken.length > 0) {
      // A class picked from NaNs is a silent wrong answer: refuse all of them.
      throw new ModelError(
        `the model's outputs (${means ? "nearest-class-mean scores of its features" : "logits"}) are NaN or infinite for ${broken.length} of ${logits.shape[0]} rows ` +
          `(${describeRows(broken)}, 0-based): no class can be predicted from them. Likely causes: weights so large ` +
          `that the forward pass overflows float32 (a diverged training; use an earlier state or retrain with a ` +
          `smaller learning rate), or features far outside the range the model was trained on (scale them as in training)`,
      );
    }
    const [classes, probabilities] = tf.tidy(() => [tf.argMax(logits, 1), options.probabilities ? tf.softmax(logits) : null] as const);
    try {
      const result: Predictions = { classes: (await classes.data()) as Int32Array, numClasses: logits.shape[1] };
      if (probabilities) result.probabilities = (await probabilities.data()) as Float32Array;
      return means ? spreadOverClasses(result, means.classes, model.numClasses) : result;
    } finally {
      classes.dispose();
      probabilities?.dispose();
    }
  } finally {
    logits.dispose();
  }
}

/** (N, K) NCM scores of every item (column k: class means.classes[k]), batched, in inference mode. */
function nearestClassMeanScoresOf(model: ContinualModel, means: ClassMeans, dataset: Dataset, batchSize: number, transform: FeatureTransform | undefined): tf.Tensor2D {
  return batchedRows(dataset, batchSize, { transform }, means.classes.length, (x) => nearestClassMeanScores(model.getFeatures(x), means));
}

/** Predictions over the K classes with a mean, as predictions over all `numClasses` (probability 0 for the others). */
function spreadOverClasses(result: Predictions, classes: readonly number[], numClasses: number): Predictions {
  const spread: Predictions = { classes: result.classes.map((k) => classes[k]!), numClasses };
  const p = result.probabilities;
  if (p) {
    const k = classes.length;
    const rows = result.classes.length;
    spread.probabilities = new Float32Array(rows * numClasses);
    for (let r = 0; r < rows; r++) classes.forEach((c, i) => (spread.probabilities![r * numClasses + c] = p[r * k + i]!));
  }
  return spread;
}

/**
 * The batch pipeline carries labels; prediction never reads them, so
 * unlabelled samples get zeros that go no further than this call.
 */
function withPlaceholderLabels(samples: Dataset | UnlabelledSamples, numClasses: number): Dataset {
  if ("labels" in samples) return samples;
  return createDataset({ features: samples.features, featureShape: samples.featureShape, labels: new Int32Array(samples.length), numClasses }, "samples");
}
