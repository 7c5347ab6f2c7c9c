/**
 * Herding exemplar selection (Rebuffi et al., CVPR 2017, "iCaRL: Incremental
 * Classifier and Representation Learning", Algorithm 4; Welling 2009): from
 * the items of one class, pick one by one the item that brings the mean of
 * the picked items' (L2-normalised) features closest to the class mean,
 *   p_k = argmin_x || mu - (phi(x) + sum_{j<k} phi(p_j)) / k ||.
 * The order matters: iCaRL's ReduceExemplarSet keeps the first m picks.
 *
 * Computed as argmax_x 2 w . phi(x) - |phi(x)|^2 with w = k * mu - sum_{j<k} phi(p_j)
 * (the squared distance times k^2, less terms equal for every x). With unit-norm
 * features that is argmax_x w . phi(x), what Avalanche's storage loop computes
 * (training/supervised/icarl.py). Two differences, both on purpose:
 * - an item already picked is never picked again (the paper's argmin may
 *   return one; Avalanche then skips it but still moves its running target
 *   and gives up after 1000 rounds, so it can return fewer items than asked);
 *   here each round picks among the items not picked yet, so the result is
 *   always min(m, n) distinct items;
 * - a zero feature vector (e.g. every ReLU of the last layer off) stays zero
 *   instead of 0/0 = NaN (Avalanche divides by its norm), and is judged by
 *   its true distance (the |phi|^2 term), not as if it were of unit norm.
 * Ties go to the lowest index. Pure JS in float64: n x d is one class of one
 * chunk (a few thousand x a few hundred), no tensors needed.
 */

/** Rows of `values` (`rows` x `width`, row-major) scaled to unit L2 norm, in float64; all-zero rows stay zero. */
export function l2NormalizeRows(values: ArrayLike<number>, rows: number, width: number): Float64Array {
  if (values.length !== rows * width) throw new RangeError(`l2NormalizeRows: ${values.length} values for ${rows} rows of width ${width}`);
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let squares = 0;
    for (let j = 0; j < width; j++) squares += values[r * width + j]! ** 2;
    const norm = Math.sqrt(squares);
    if (norm === 0) continue;
    for (let j = 0; j < width; j++) out[r * width + j] = values[r * width + j]! / norm;
  }
  return out;
}

/**
 * Herding order of `count` items among `rows` items with features `features`
 * (`rows` x `width`, row-major, any scale: normalised here). Returns
 * min(count, rows) distinct row indices, in the order picked (the first is
 * the item whose normalised features are closest to their mean).
 * RangeError for a negative or non-integer count or a size mismatch; a
 * non-finite feature is a RangeError too (it would make every distance NaN).
 */
export function herdingSelection(features: ArrayLike<number>, rows: number, width: number, count: number): Int32Array {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`herdingSelection: count must be a non-negative integer, got ${count}`);
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i]!)) throw new RangeError(`herdingSelection: feature ${i} is ${features[i]}: features must be finite`);
  }
  const unit = l2NormalizeRows(features, rows, width);
  const mean = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) mean[j]! += unit[r * width + j]! / rows;
  const picks = Math.min(count, rows);
  const picked = new Uint8Array(rows);
  const order = new Int32Array(picks);
  const sum = new Float64Array(width); // sum of the picked items' features
  for (let k = 1; k <= picks; k++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let r = 0; r < rows; r++) {
      if (picked[r]) continue;
      let score = 0;
      for (let j = 0; j < width; j++) {
        const phi = unit[r * width + j]!;
        score += 2 * (k * mean[j]! - sum[j]!) * phi - phi * phi;
      }
      if (score > bestScore) {
        bestScore = score;
        best = r;
      }
    }
    picked[best] = 1;
    order[k - 1] = best;
    for (let j = 0; j < width; j++) sum[j]! += unit[best * width + j]!;
  }
  return order;
}
