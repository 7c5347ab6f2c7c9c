/**
 * Predictions of a model over a dataset in inference mode: arg-max classes,
 * and softmax probabilities when asked. Read back once per batch-pass, never
 * per sample.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createDataset, type Dataset, type UnlabelledSamples } from "../data/dataset.js";
import type { FeatureTransform } from "../data/transforms.js";
import { DEFAULT_TASK_ID, type ContinualModel } from "../model/continual_model.js";
import { ModelError } from "../errors.js";
import { describeRows, extractLogits, nonFiniteRows } from "./logits.js";

export interface Predictions {
  /** Arg-max class per item. */
  classes: Int32Array;
  /** Softmax probabilities, N x C row-major (only with `probabilities: true`). */
  probabilities?: Float32Array;
  numClasses: number;
}

/**
 * Predicted classes (and optionally probabilities) for every item, in order; labels, if any, are not read.
 * A ModelError naming the rows when any row's logits are NaN or infinite (no answer is given for any row).
 */
export async function predict(
  model: ContinualModel,
  samples: Dataset | UnlabelledSamples,
  options: { taskId?: string; batchSize?: number; transform?: FeatureTransform | undefined; probabilities?: boolean } = {},
): Promise<Predictions> {
  const logits = extractLogits(model, withPlaceholderLabels(samples, model.numClasses), options.batchSize ?? 256, options.taskId ?? DEFAULT_TASK_ID, { transform: options.transform });
  try {
    const broken = await nonFiniteRows(logits);
    if (broken.length > 0) {
      // A class picked from NaNs is a silent wrong answer: refuse all of them.
      throw new ModelError(
        `the model's outputs (logits) are NaN or infinite for ${broken.length} of ${logits.shape[0]} rows ` +
          `(${describeRows(broken)}, 0-based): no class can be predicted from them. Likely causes: weights so large ` +
          `that the forward pass overflows float32 (a diverged training; use an earlier state or retrain with a ` +
          `smaller learning rate), or features far outside the range the model was trained on (scale them as in training)`,
      );
    }
    const [classes, probabilities] = tf.tidy(() => [tf.argMax(logits, 1), options.probabilities ? tf.softmax(logits) : null] as const);
    try {
      const result: Predictions = { classes: (await classes.data()) as Int32Array, numClasses: logits.shape[1] };
      if (probabilities) result.probabilities = (await probabilities.data()) as Float32Array;
      return result;
    } finally {
      classes.dispose();
      probabilities?.dispose();
    }
  } finally {
    logits.dispose();
  }
}

/**
 * The batch pipeline carries labels; prediction never reads them, so
 * unlabelled samples get zeros that go no further than this call.
 */
function withPlaceholderLabels(samples: Dataset | UnlabelledSamples, numClasses: number): Dataset {
  if ("labels" in samples) return samples;
  return createDataset({ features: samples.features, featureShape: samples.featureShape, labels: new Int32Array(samples.length), numClasses }, "samples");
}
