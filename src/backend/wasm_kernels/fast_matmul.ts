/**
 * Any matmul (transpose flags, batch dims, broadcasting) rewritten as calls
 * of the one matmul the wasm backend runs fast: 2-D, no transpose flags.
 * tfjs-backend-wasm 4.22 sends everything else to a scalar loop about 10-20x
 * slower (batch_mat_mul_impl.cc: XNNPACK only when both batch sizes are 1
 * and neither operand is transposed).
 *
 * - a transposed operand is materialised with the wasm Transpose kernel
 *   (one pass over the operand, against a matmul that reads it n times);
 * - a 2-D product may instead be computed transposed, C^T = B^T A^T, when
 *   that needs fewer transposes and a smaller right operand: XNNPACK repacks
 *   the right operand on every call with a new tensor (about 4x the cost of
 *   a transpose pass per element, measured), which dominates training, where
 *   every operand is new. `matMul(dy, w, false, true)` becomes
 *   (w @ dy^T)^T: dy^T is small, w needs no transpose; and a forward
 *   `matMul(x, w)` with few rows becomes (w^T @ x^T)^T, unless XNNPACK still
 *   holds w packed from an earlier call;
 * - when b has no batch (or a batch of 1), the batches of a are stacked into
 *   the rows of ONE 2-D matmul;
 * - otherwise each output batch is one 2-D call on copied slices.
 */
import * as tf from "@tensorflow/tfjs-core";
import { copyRange, floatsOf, heapOf, release, stockKernel, view, type WasmBackend } from "./wasm_heap.js";
import { swapLastTwoAxes } from "./transpose_2d.js";

/** A fast-path matmul: a [1, m, k] times b [1, k, n], no transposes, returns [1, m, n]. */
export type PlainMatMul = (a: tf.TensorInfo, b: tf.TensorInfo) => tf.TensorInfo;

/**
 * Buffers the stock kernel has used as a right operand. tfjs-backend-wasm
 * keeps XNNPACK's packed copy of a right operand for as long as its tensor
 * lives, so using one again costs no packing (model weights at inference);
 * in training every weight is a new tensor after each step.
 */
const packedRightOperands = new WeakSet<tf.DataId>();

/** Buffers offered as the right operand of a plain product at least once. */
const offeredRightOperands = new WeakSet<tf.DataId>();

/** Whether XNNPACK already holds `x` packed as a right operand. */
export function isPackedRightOperand(x: tf.TensorInfo): boolean {
  return packedRightOperands.has(x.dataId);
}

/**
 * Records that `b` is offered as the right operand of a plain product and
 * says whether it was before. A right operand used a second time is likely
 * to be used again (weights at inference, a fixed matrix in a loop): packing
 * it once then pays off, so it should not be flipped away.
 */
export function offeredBefore(b: tf.TensorInfo): boolean {
  if (offeredRightOperands.has(b.dataId)) return true;
  offeredRightOperands.add(b.dataId);
  return false;
}

/** The fast-path call of the stock BatchMatMul kernel. */
export function stockPlainMatMul(backend: WasmBackend): PlainMatMul {
  const batchMatMul = stockKernel(tf.BatchMatMul);
  return (a, b) => {
    packedRightOperands.add(b.dataId);
    return batchMatMul(backend, { a, b }, { transposeA: false, transposeB: false });
  };
}

/**
 * `matMul(a, b, transposeA, transposeB)` with every multiplication done by
 * `plain`. The output has shape [...broadcast(batch dims), m, n].
 */
export function matMulOnFastPath(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  plain: PlainMatMul,
  { mayFlip = false }: { mayFlip?: boolean } = {},
): tf.TensorInfo {
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  if (mayFlip && tf.util.sizeFromShape(outer) === 1) {
    const flipped = flippedIfCheaper(backend, a, b, transposeA, transposeB, plain);
    if (flipped !== undefined) return view(flipped, [...outer, ...flipped.shape.slice(-2)]);
  }
  const aPlain = transposeA ? swapLastTwo(backend, a) : a;
  const bPlain = transposeB ? swapLastTwo(backend, b) : b;
  try {
    const [m, k] = lastTwo(aPlain);
    const [kB, n] = lastTwo(bPlain);
    if (k !== kB) {
      throw new Error(
        `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
          `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
      );
    }
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const outShape = [...outer, m, n];
    if (batchB === 1) {
      // Rows of every batch of a, stacked: one matmul, and its output is
      // already laid out as [...outer, m, n].
      const product = plain(view(aPlain, [1, batchA * m, k]), view(bPlain, [1, k, n]));
      return view(product, outShape);
    }
    return perBatch(backend, aPlain, bPlain, outerA, outerB, outer, [m, k, n], plain);
  } finally {
    if (aPlain !== a) release(backend, aPlain);
    if (bPlain !== b) release(backend, bPlain);
  }
}

/** Weight of one element of the right operand (XNNPACK repacks it) against one transposed element. */
const PACK_COST = 4;
/** A plain product is flipped only when the flip costs less than this share of the direct product. */
const PLAIN_FLIP_MARGIN = 0.7;

/**
 * op(A) op(B) as (op(B)^T op(A)^T)^T when the cost model says so, else
 * undefined. op(B)^T is B itself when B was to be transposed (likewise A),
 * so the flip trades the operand transposes for one transpose of the output.
 */
function flippedIfCheaper(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  plain: PlainMatMul,
): tf.TensorInfo | undefined {
  const [aRows, aColumns] = lastTwo(a);
  const [bRows, bColumns] = lastTwo(b);
  const [m, k] = transposeA ? [aColumns, aRows] : [aRows, aColumns];
  const n = transposeB ? bRows : bColumns;
  if ((transposeB ? bColumns : bRows) !== k) return undefined; // let the main path report it
  // The right operand is B for the direct product and A for the flipped one;
  // either may already be packed (then it costs nothing), when used as it is.
  const packDirect = !transposeB && isPackedRightOperand(b) ? 0 : PACK_COST * k * n;
  const packFlip = transposeA && isPackedRightOperand(a) ? 0 : PACK_COST * k * m;
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + packDirect;
  const flip = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + packFlip + m * n;
  // A plain product only flips when that is clearly cheaper: measured on
  // [m, 784] x [784, 256] with a new right operand, flipping halves the time
  // at m = 32-64 and gains nothing at m = 128, where the model still
  // predicted a small gain.
  const margin = transposeA || transposeB ? 1 : PLAIN_FLIP_MARGIN;
  if (flip >= margin * direct) return undefined;
  const left = transposeB ? view(b, [1, n, k]) : swapLastTwo(backend, view(b, [1, k, n]));
  const right = transposeA ? view(a, [1, k, m]) : swapLastTwo(backend, view(a, [1, m, k]));
  try {
    const productT = plain(left, right);
    const product = swapLastTwo(backend, productT);
    release(backend, productT);
    return product;
  } finally {
    if (left.dataId !== b.dataId) release(backend, left);
    if (right.dataId !== a.dataId) release(backend, right);
  }
}

function perBatch(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  outerA: number[],
  outerB: number[],
  outer: number[],
  [m, k, n]: [number, number, number],
  plain: PlainMatMul,
): tf.TensorInfo {
  const out = backend.makeOutput([...outer, m, n], a.dtype);
  const batches = tf.util.sizeFromShape(outer);
  const sourceA = batchIndexer(outerA, outer);
  const sourceB = batchIndexer(outerB, outer);
  for (let batch = 0; batch < batches; batch++) {
    const indexA = sourceA(batch);
    const indexB = sourceB(batch);
    // A batch-1 operand is used as it is; others are copied out (a copy is
    // one pass, the matmul n or m passes).
    const sliceA = tf.util.sizeFromShape(outerA) === 1 ? view(a, [1, m, k]) : copyRange(backend, a, indexA * m * k, [1, m, k]);
    const sliceB = copyRange(backend, b, indexB * k * n, [1, k, n]);
    const product = plain(sliceA, sliceB);
    const { heap, start } = heapOf(backend, out);
    heap.set(floatsOf(backend, product), start + batch * m * n);
    release(backend, product, sliceB);
    if (sliceA.dataId !== a.dataId) release(backend, sliceA);
  }
  return out;
}

/** Maps a flat batch index of the broadcast shape to the flat batch index of one operand. */
function batchIndexer(operandOuter: number[], outer: number[]): (batch: number) => number {
  const offset = outer.length - operandOuter.length;
  const outerStrides = tf.util.computeStrides(outer);
  const operandStrides = tf.util.computeStrides(operandOuter);
  return (batch) => {
    let index = 0;
    let rest = batch;
    for (let axis = 0; axis < outer.length; axis++) {
      const stride = outerStrides[axis] ?? 1;
      const coordinate = Math.floor(rest / stride);
      rest -= coordinate * stride;
      const operandAxis = axis - offset;
      if (operandAxis < 0) continue;
      if ((operandOuter[operandAxis] ?? 1) === 1) continue;
      index += coordinate * (operandStrides[operandAxis] ?? 1);
    }
    return index;
  };
}

function swapLastTwo(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  if (x.dtype === "float32") return swapLastTwoAxes(backend, x);
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return stockKernel(tf.Transpose)(backend, { x }, { perm });
}

function lastTwo(x: tf.TensorInfo): [number, number] {
  const rank = x.shape.length;
  return [x.shape[rank - 2] ?? 1, x.shape[rank - 1] ?? 1];
}
