/**
 * Chained tensor methods (`t.flatten()`, `t.reshape(...)`, ...) for
 * tfjs-layers. The @tensorflow/tfjs umbrella registers them; relearn uses
 * tfjs-core directly, whose Node bundle does not, and the files that do are
 * ES modules inside a CommonJS package that Node cannot import. Parts of
 * tfjs-layers still call them: without them the Orthogonal initializer (the
 * default recurrent initializer of LSTM, GRU and SimpleRNN) throws
 * "rMat.flatten is not a function". Installing is idempotent and never
 * replaces a method that exists.
 */
import * as tf from "@tensorflow/tfjs-core";

type AnyFunction = (...args: unknown[]) => unknown;

/** Methods that are `tf.<name>(tensor, ...args)`. */
const SAME_NAME = `abs acos acosh add all any argMax argMin asin asinh atan atan2 atanh avgPool batchNorm
  batchToSpaceND broadcastTo cast ceil clipByValue conv1d conv2d conv2dTranspose cos cosh cumprod cumsum
  depthToSpace depthwiseConv2d dilation2d div divNoNan dot elu equal erf euclideanNorm exp expandDims expm1 fft
  floor floorDiv gather greater greaterEqual ifft irfft isFinite isInf isNaN leakyRelu less lessEqual
  localResponseNormalization log log1p logSigmoid logSoftmax logSumExp logicalAnd logicalNot logicalOr logicalXor
  matMul max maxPool maximum mean min minimum mirrorPad mod mul neg norm notEqual oneHot onesLike pad pool pow
  prelu prod reciprocal relu relu6 reshape reverse rfft round rsqrt selu separableConv2d sigmoid sign sin sinh
  slice softmax softplus spaceToBatchND split sqrt square squaredDifference squeeze step stridedSlice sub sum
  tan tanh tile topk transpose unique unsortedSegmentSum unstack zerosLike`.split(/\s+/);

/** Methods whose body is not a plain same-name call. */
const SPECIAL: Record<string, (this: tf.Tensor, ...args: never[]) => unknown> = {
  flatten() { return tf.reshape(this, [this.size]); },
  as1D() { return tf.reshape(this, [this.size]); },
  as2D(rows: number, columns: number) { return tf.reshape(this, [rows, columns]); },
  as3D(rows: number, columns: number, depth: number) { return tf.reshape(this, [rows, columns, depth]); },
  as4D(a: number, b: number, c: number, d: number) { return tf.reshape(this, [a, b, c, d]); },
  as5D(a: number, b: number, c: number, d: number, e: number) { return tf.reshape(this, [a, b, c, d, e]); },
  asScalar() { return tf.reshape(this, []); },
  reshapeAs(other: tf.Tensor) { return tf.reshape(this, other.shape); },
  asType(dtype: tf.DataType) { return tf.cast(this, dtype); },
  toBool() { return tf.cast(this, "bool"); },
  toFloat() { return tf.cast(this, "float32"); },
  toInt() { return tf.cast(this, "int32"); },
  concat(others: tf.Tensor | tf.Tensor[], axis?: number) {
    return tf.concat([this, ...(Array.isArray(others) ? others : [others])], axis);
  },
  stack(others: tf.Tensor | tf.Tensor[], axis?: number) {
    return tf.stack([this, ...(Array.isArray(others) ? others : [others])], axis);
  },
  where(condition: tf.Tensor, other: tf.Tensor) { return tf.where(condition, this, other); },
  resizeBilinear(size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return tf.image.resizeBilinear(this as tf.Tensor3D, size, alignCorners, halfPixelCenters);
  },
  resizeNearestNeighbor(size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return tf.image.resizeNearestNeighbor(this as tf.Tensor3D, size, alignCorners, halfPixelCenters);
  },
};

let installed = false;

/** Adds the missing chained methods to tf.Tensor (once). */
export function installChainedOps(): void {
  if (installed) return;
  installed = true;
  const prototype = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tf as unknown as Record<string, unknown>;
  for (const name of SAME_NAME) {
    const op = ops[name];
    if (typeof op !== "function" || name in prototype) continue;
    prototype[name] = function (this: tf.Tensor, ...args: unknown[]) {
      this.throwIfDisposed();
      return (op as AnyFunction)(this, ...args);
    };
  }
  for (const [name, method] of Object.entries(SPECIAL)) {
    if (name in prototype) continue;
    prototype[name] = function (this: tf.Tensor, ...args: never[]) {
      this.throwIfDisposed();
      return method.apply(this, args);
    };
  }
}

installChainedOps();
