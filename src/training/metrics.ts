/**
 * Batch metrics computed on device and summed over an epoch without reading
 * anything back until the epoch ends. Each returns the SUM over the batch (not
 * the mean) so that short last batches weigh what they should.
 */
import * as tf from "@tensorflow/tfjs-core";

/** logits (B, C), labels (B,) -> scalar sum of the per-sample metric over the batch. */
export type BatchMetric = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;

/** Number of rows whose arg-max is the label. */
export const correctCount: BatchMetric = (logits, labels) =>
  tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32")) as tf.Scalar);

/** The metrics logged by default: accuracy, as train_accuracy and val_accuracy. */
export const defaultMetrics: Readonly<Record<string, BatchMetric>> = { accuracy: correctCount };

/**
 * Running sums of scalars kept on device; `read` syncs once for all of them.
 */
export class DeviceSums {
  private readonly sums = new Map<string, tf.Scalar>();
  private count = 0;

  /** Adds each named batch sum; takes ownership of the given scalars. */
  add(values: Record<string, tf.Scalar>, batchSize: number): void {
    this.count += batchSize;
    for (const [name, value] of Object.entries(values)) {
      const previous = this.sums.get(name);
      if (previous) {
        this.sums.set(name, tf.keep(tf.add(previous, value)) as tf.Scalar);
        previous.dispose();
        value.dispose();
      } else {
        this.sums.set(name, tf.keep(value));
      }
    }
  }

  /** Means over all rows added so far, with `prefix` on every name; disposes the sums. */
  async read(prefix: string): Promise<Record<string, number>> {
    const names = [...this.sums.keys()];
    const result: Record<string, number> = {};
    if (names.length > 0) {
      const stacked = tf.stack(names.map((n) => this.sums.get(n)!));
      const values = await stacked.data();
      stacked.dispose();
      names.forEach((name, i) => (result[prefix + name] = values[i]! / this.count));
    }
    this.dispose();
    return result;
  }

  dispose(): void {
    tf.dispose([...this.sums.values()]);
    this.sums.clear();
    this.count = 0;
  }
}
