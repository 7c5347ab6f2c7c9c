/**
 * Pooled outputs distillation (POD; Douillard et al., ECCV 2020, "PODNet:
 * Pooled Outputs Distillation for Small-Tasks Incremental Learning"), as
 * Renate's WeightedPooledOutputDistillationLossComponent computes it
 * (src/renate/updaters/learner_components/losses.py): for each distilled
 * layer, square the current and the stored outputs, pool them, optionally
 * L2-normalise each row, and take the Euclidean distance per item; the loss
 * of an item is the mean of these distances over the layers.
 *
 * Pooling (tfjs is channels-last: a feature map is [batch, H, W, C], a
 * vector [batch, C]):
 * - "channel": sum over channels -> H*W values (a vector: one value);
 * - "width": sum over the height -> W*C values (PODNet's POD-width);
 * - "height": sum over the width -> H*C values (POD-height);
 * - "spatial": height and width side by side (PODNet's POD-spatial; Renate's default);
 * - "gap": mean over H and W -> C values (global average pooling);
 * - "pixel": no pooling, every value.
 * Renate's "pixel" on a [B, C, H, W] map normalises along the channels and
 * averages over C and H the distances along W; ours flattens the map like
 * every other type, i.e. the distance between the whole (squared) maps,
 * PODNet's pixel-level distillation. On a vector the two agree.
 *
 * Pooled values of a vector: only "channel" and "pixel" exist (the others
 * pool over axes a vector lacks: an OptionsError says so); and "channel"
 * with normalisation would compare two rows of one value each scaled to 1,
 * a loss that is always 0, so that pair is an OptionsError too.
 */
import * as tf from "@tensorflow/tfjs-core";
import { OptionsError } from "../errors.js";

export const POD_DISTILLATION_TYPES = ["spatial", "channel", "width", "height", "gap", "pixel"] as const;
export type PodDistillationType = (typeof POD_DISTILLATION_TYPES)[number];

/** The types that pool over the height and width of a feature map [batch, H, W, C]. */
const MAP_ONLY: ReadonlySet<PodDistillationType> = new Set(["spatial", "width", "height", "gap"]);

/** How the distilled layers' outputs sit in one stored row: each flattened, end to end, in the order named. */
export interface PodLayout {
  layers: readonly string[];
  /** Output shape of each layer, batch left out. */
  shapes: readonly (readonly number[])[];
  /** Values per stored row: the sum of the layers' output sizes. */
  width: number;
}

/** What one distillation needs besides the features. */
export interface PodSettings {
  distillationType: PodDistillationType;
  /** L2-normalise each pooled row before the distance (Renate's default true). */
  normalize: boolean;
}

/**
 * The layout of `layers` with output shapes `shapes` (batch left out),
 * checked against the distillation type: a type a layer's output cannot be
 * pooled by is an OptionsError naming the layer, its shape and the types
 * that apply. `option` names the option holding the type, for the message.
 */
export function podLayout(layers: readonly string[], shapes: readonly (readonly number[])[], settings: PodSettings, option: string): PodLayout {
  const { distillationType: type, normalize } = settings;
  shapes.forEach((shape, i) => {
    const name = layers[i]!;
    const described = `layer "${name}" outputs [batch, ${shape.join(", ")}]`;
    if (shape.length === 3) return;
    if (MAP_ONLY.has(type)) {
      throw new OptionsError(
        `${option} "${type}" pools over the height and width of a feature map [batch, height, width, channels], but ${described}: ` +
          `on such a layer only ${shape.length === 1 ? '"channel" (with normalize false)' : '"channel"'} and "pixel" apply`,
      );
    }
    if (type === "channel" && normalize && shape.length === 1) {
      throw new OptionsError(
        `${option} "channel" on ${described} pools each item to ONE value, and normalize scales it to 1: the loss would always be 0. ` +
          `Use "pixel", or "channel" with normalize false (the difference of the squared norms)`,
      );
    }
  });
  return { layers: [...layers], shapes: shapes.map((s) => [...s]), width: shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0) };
}

/** Squares a layer's output [batch, ...shape] and pools it to [batch, K] (see the file comment). */
export function podPool(features: tf.Tensor, type: PodDistillationType): tf.Tensor2D {
  return tf.tidy(() => {
    const batch = features.shape[0]!;
    const squared = tf.square(features);
    const flat = (x: tf.Tensor) => tf.reshape(x, [batch, -1]) as tf.Tensor2D;
    if (type === "pixel") return flat(squared);
    if (type === "channel") return flat(tf.sum(squared, -1));
    if (features.rank !== 4) throw new OptionsError(`POD "${type}" needs a feature map [batch, H, W, C], got [${features.shape.join(", ")}]`);
    const overHeight = () => flat(tf.sum(squared, 1));
    const overWidth = () => flat(tf.sum(squared, 2));
    if (type === "width") return overHeight();
    if (type === "height") return overWidth();
    if (type === "gap") return flat(tf.mean(squared, [1, 2]));
    return tf.concat([overWidth(), overHeight()], 1) as tf.Tensor2D;
  });
}

/**
 * Euclidean norm of each row of [B, K], with a zero gradient (not NaN) at a
 * zero row: sqrt's derivative is infinite at 0, and PyTorch's norm gives 0
 * there. Equal features are exactly where the distance is 0.
 */
function rowNorms(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const squares = tf.sum(tf.square(x), 1);
    // sign(squares) is 0 at a zero row, 1 elsewhere, and has a zero gradient (tfjs has none for a comparison).
    return tf.mul(tf.sqrt(tf.maximum(squares, 1e-30)), tf.sign(squares)) as tf.Tensor1D;
  });
}

/** Each row over max(its L2 norm, 1e-12), as PyTorch's F.normalize (a zero row stays zero). */
function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.expandDims(tf.maximum(rowNorms(x), 1e-12), 1)) as tf.Tensor2D);
}

/** Per-item POD distance (B,) between one layer's current and stored outputs (same shape [B, ...]). */
export function podDistance(current: tf.Tensor, stored: tf.Tensor, settings: PodSettings): tf.Tensor1D {
  if (!tf.util.arraysEqual(current.shape, stored.shape)) {
    throw new RangeError(`podDistance: current features [${current.shape}] and stored ones [${stored.shape}] differ in shape`);
  }
  return tf.tidy(() => {
    let a = podPool(current, settings.distillationType);
    let b = podPool(stored, settings.distillationType);
    if (settings.normalize) {
      a = normalizeRows(a);
      b = normalizeRows(b);
    }
    return rowNorms(tf.sub(a, b) as tf.Tensor2D);
  });
}

/**
 * Per-item POD loss (B,): the mean over the layers of `layout` of
 * podDistance between `activations` (the layers' current outputs, in layout
 * order) and `stored` ([B, layout.width], rows as the layout lays them out).
 */
export function podLoss(activations: readonly tf.Tensor[], stored: tf.Tensor2D, layout: PodLayout, settings: PodSettings): tf.Tensor1D {
  if (activations.length !== layout.layers.length || layout.layers.length === 0) {
    throw new RangeError(`podLoss: ${activations.length} activations for the ${layout.layers.length} layers of the layout`);
  }
  return tf.tidy(() => {
    const rows = stored.shape[0];
    let offset = 0;
    let sum: tf.Tensor1D | null = null;
    layout.shapes.forEach((shape, i) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const old = tf.reshape(tf.slice(stored, [0, offset], [rows, size]), [rows, ...shape]);
      offset += size;
      const distance = podDistance(activations[i]!, old, settings);
      sum = sum === null ? distance : (tf.add(sum, distance) as tf.Tensor1D);
    });
    return tf.div(sum!, layout.layers.length) as tf.Tensor1D;
  });
}
