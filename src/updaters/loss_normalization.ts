/**
 * How the rehearsal (ER) family combines its loss terms: the `lossNormalization`
 * option shared by ER, offline ER and DER++, whose papers and Renate weigh the
 * terms differently. CLS-ER, POD-ER and Super-ER take Renate's boolean
 * `normalizeLoss` instead (default on): their objectives are Renate's own
 * (POD-ER, Super-ER) or a reweighting of the paper's (CLS-ER), so there is no
 * second, "paper" form to choose. termRowWeights below weighs their terms too.
 *
 * - "paper" (default): each method's published objective. DER++ is
 *   CE(new) + alpha * MSE + beta * CE(memory), unnormalised (Buzzega et al.
 *   2020); ER is the mean over every row of the joint batch (Chaudhry et al.
 *   2019).
 * - "renate": Renate's `loss_normalization=1`
 *   (src/renate/updaters/experimental/er.py, BaseExperienceReplayLearner.
 *   training_step): every term is a mean over its own rows, the weighted sum
 *   is divided by the sum of the weights of the terms in the step (the
 *   new-data term has weight 1). With Renate's defaults ER is
 *   (CE_new + CE_mem) / 2 and DER (alpha = beta = 1) is the three terms / 3.
 *   While the memory is empty Renate adds no memory term and divides by
 *   nothing but the new data's weight 1, and so does this.
 *   Renate's offline ER instead mixes L_new and L_mem convexly with the new
 *   data's share of all data seen (offline_experience_replay.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";

/** The values of `lossNormalization`. */
export const LOSS_NORMALIZATIONS = ["paper", "renate"] as const;
/** One of LOSS_NORMALIZATIONS. */
export type LossNormalization = (typeof LOSS_NORMALIZATIONS)[number];
/** The zod field every ER-family options schema extends with. */
export const lossNormalizationSchema = z.enum(LOSS_NORMALIZATIONS).default("paper");

/** One loss term: the rows whose role (first target column) is `role`, weighted by `weight` (>= 0). */
export interface LossTerm {
  role: number;
  weight: number;
}

/**
 * Per-row weights (B,) such that mean(weights * perRowLoss) is
 *   sum_k weight_k * mean_{rows of role_k}(perRowLoss) / N,
 * with N = 1 ("paper") or the sum of the weights of the terms that have at
 * least one row in the batch ("renate"; 1 when that sum is 0, so a batch of
 * weight-0 terms gives 0, never 0/0). A term with no rows contributes 0.
 * `role` is (B,) float; rows of no listed role get weight 0.
 */
export function termRowWeights(role: tf.Tensor1D, terms: readonly LossTerm[], normalization: LossNormalization): tf.Tensor1D {
  const rows = role.shape[0];
  return tf.tidy(() => {
    let weights: tf.Tensor = tf.zeros([rows]);
    let normalizer: tf.Tensor = tf.scalar(0);
    for (const term of terms) {
      const member = tf.cast(tf.equal(role, term.role), "float32");
      const count = tf.sum(member);
      // Each row's share of the batch mean: rows * weight / (rows in its term).
      weights = tf.add(weights, tf.mul(member, tf.div(rows * term.weight, tf.maximum(count, 1))));
      normalizer = tf.add(normalizer, tf.mul(tf.minimum(count, 1), term.weight));
    }
    if (normalization === "paper") return weights as tf.Tensor1D;
    return tf.div(weights, tf.where(tf.greater(normalizer, 0), normalizer, tf.onesLike(normalizer))) as tf.Tensor1D;
  });
}
