/**
 * Gradient clipping as PyTorch Lightning does it: "norm" rescales all
 * gradients together when their global L2 norm exceeds the limit
 * (clip_grad_norm_), "value" clamps each entry to [-limit, limit].
 */
import * as tf from "@tensorflow/tfjs-core";

export interface GradientClipping {
  value: number;
  algorithm: "norm" | "value";
}

/** New clipped gradients (the caller disposes both maps). */
export function clipGradients(grads: tf.NamedTensorMap, clipping: GradientClipping): tf.NamedTensorMap {
  const names = Object.keys(grads).filter((n) => grads[n] != null);
  return tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    if (clipping.algorithm === "value") {
      for (const n of names) out[n] = tf.clipByValue(grads[n]!, -clipping.value, clipping.value);
      return out;
    }
    const squares = names.map((n) => tf.sum(tf.square(grads[n]!)));
    const norm = tf.sqrt(tf.addN(squares));
    // torch: scale = min(1, max_norm / (total_norm + 1e-6))
    const scale = tf.minimum(1, tf.div(clipping.value, tf.add(norm, 1e-6)));
    for (const n of names) out[n] = tf.mul(grads[n]!, scale);
    return out;
  });
}
