/**
 * Shrink and perturb (Ash and Adams, NeurIPS 2020, "On Warm-Starting Neural
 * Network Training"), as Renate's ShrinkAndPerturbReinitializationComponent
 * (src/renate/updaters/learner_components/reinitialization.py) applies it at
 * the start of every update's training: each weight w becomes
 *   shrinkFactor * w + sigma * N(0, 1)
 * (sigma is the noise's standard deviation; Renate's docstring calls it a
 * variance, its code multiplies a standard normal by it).
 *
 * Differences from Renate: only the trainable weights move, so weights the
 * user froze (and batch-norm statistics, buffers in PyTorch) stay bit for
 * bit as they are; the noise is seeded (a seed per weight, derived from
 * `seed` and the weight's position), so a run repeats exactly.
 */
import * as tf from "@tensorflow/tfjs-core";
import { deriveSeed } from "../random.js";

export interface ShrinkPerturbSettings {
  /** Factor every weight is multiplied by, > 0 (Renate's Super-ER: 0.95). */
  shrinkFactor: number;
  /** Standard deviation of the Gaussian noise added, >= 0 (Renate's Super-ER: 0.001). */
  sigma: number;
}

/**
 * Shrinks and perturbs `variables` in place; the noise of variable i is
 * tf.randomNormal(shape, 0, sigma, "float32", deriveSeed(seed, "shrink-perturb", i)).
 * A factor 1 and sigma 0 leave every value as it is.
 */
export function shrinkAndPerturb(variables: readonly tf.Variable[], settings: ShrinkPerturbSettings, seed: number): void {
  const { shrinkFactor, sigma } = settings;
  if (shrinkFactor === 1 && sigma === 0) return;
  variables.forEach((variable, i) => {
    tf.tidy(() => {
      let value: tf.Tensor = variable;
      if (shrinkFactor !== 1) value = tf.mul(value, shrinkFactor);
      if (sigma !== 0) value = tf.add(value, tf.randomNormal(variable.shape, 0, sigma, "float32", deriveSeed(seed, "shrink-perturb", i)));
      variable.assign(value);
    });
  });
}
