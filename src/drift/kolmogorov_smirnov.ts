/**
 * The two-sample Kolmogorov-Smirnov test (two-sided): the statistic
 * D = sup |F0(t) - F1(t)| of two empirical distribution functions, and its
 * p-value under "both samples come from one continuous distribution", exact
 * for small samples and from Kolmogorov's limiting distribution otherwise.
 * Plain numbers: the drift detector sorts the features on tfjs and calls these.
 */

/** Which p-value: "exact" counts lattice paths; "asymptotic" uses Kolmogorov's distribution; "auto" is exact when n0 * n1 <= 1,000,000. */
export type KsMethod = "auto" | "exact" | "asymptotic";

/** Above this n0 * n1, "auto" uses the asymptotic p-value (the exact one costs n0 * n1 steps per feature). */
export const KS_EXACT_LIMIT = 1_000_000;

/**
 * max over t of |i(t) * n1 - j(t) * n0|, where i(t), j(t) count the values
 * <= t in the ascending arrays `sorted0` (n0 values) and `sorted1` (n1): the
 * KS statistic times n0 * n1, an integer, so ties in D compare exactly.
 * Tied values are passed together, as the empirical functions jump there.
 */
export function ksScaledStatistic(sorted0: ArrayLike<number>, sorted1: ArrayLike<number>): number {
  const n0 = sorted0.length;
  const n1 = sorted1.length;
  let i = 0;
  let j = 0;
  let best = 0;
  while (i < n0 || j < n1) {
    const t = j >= n1 || (i < n0 && sorted0[i]! <= sorted1[j]!) ? sorted0[i]! : sorted1[j]!;
    while (i < n0 && sorted0[i]! <= t) i++;
    while (j < n1 && sorted1[j]! <= t) j++;
    best = Math.max(best, Math.abs(i * n1 - j * n0));
  }
  return best;
}

/**
 * P(D >= d) for samples of n0 and n1 values with d = scaled / (n0 n1), the
 * output of `ksScaledStatistic`: the share of the C(n0 + n1, n0) equally
 * likely orderings whose path (i, j) reaches |i n1 - j n0| >= scaled. Summed
 * over the point where each path first gets there (the share of paths to
 * it that stayed inside before, times the share of all paths through it), a
 * sum of positive terms: small p-values keep their digits (1 minus the
 * inside share would lose them below ~1e-12). O(n0 * d * n1) time, O(n1) memory.
 */
export function ksExactPValue(scaled: number, n0: number, n1: number): number {
  const inside = (i: number, j: number) => Math.abs(i * n1 - j * n0) < scaled;
  // logFactorial[k] = ln k!, for the share of paths through (i, j): C(i+j, i) C(n0+n1-i-j, n0-i) / C(n0+n1, n0).
  const logFactorial = new Float64Array(n0 + n1 + 1);
  for (let k = 1; k <= n0 + n1; k++) logFactorial[k] = logFactorial[k - 1]! + Math.log(k);
  const logChoose = (a: number, b: number) => logFactorial[a]! - logFactorial[b]! - logFactorial[a - b]!;
  const through = (i: number, j: number) => Math.exp(logChoose(i + j, i) + logChoose(n0 + n1 - i - j, n0 - i) - logChoose(n0 + n1, n0));
  if (scaled <= 0) return 1;
  // row[j]: the share of the paths to (i, j) that stayed inside all the way (0 outside). Only the band around the
  // diagonal can be nonzero: row i visits from just left of row i-1's band to just right of its own (the cells a path
  // can first leave the band at), and every cell left of that is 0 already, so the cost is n0 * (band width).
  const row = new Float64Array(n1 + 1);
  let p = 0;
  for (let i = 0; i <= n0; i++) {
    const start = Math.max(0, Math.floor(((i - 1) * n1 - scaled) / n0) - 1);
    const end = Math.min(n1, Math.ceil((i * n1 + scaled) / n0) + 1);
    for (let j = start; j <= end; j++) {
      const reached = i === 0 && j === 0 ? 1 : ((i > 0 ? row[j]! * i : 0) + (j > 0 ? row[j - 1]! * j : 0)) / (i + j);
      if (inside(i, j)) row[j] = reached;
      else {
        if (reached > 0) p += reached * through(i, j);
        row[j] = 0;
      }
    }
  }
  return Math.min(1, p);
}

/**
 * Kolmogorov's limiting survival function Q(x) = P(K > x) =
 * 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2), with the Jacobi-theta form
 * 1 - sqrt(2 pi)/x sum_{k odd} exp(-k^2 pi^2 / (8 x^2)) for small x, where
 * the alternating series converges slowly. Equals scipy.stats.kstwobign.sf.
 */
export function kolmogorovSurvival(x: number): number {
  if (x <= 0) return 1;
  if (x < 1) {
    let sum = 0;
    for (let k = 1; k < 40; k += 2) sum += Math.exp((-k * k * Math.PI * Math.PI) / (8 * x * x));
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / x) * sum));
  }
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-18) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * The asymptotic p-value of D = scaled / (n0 n1): Q((sqrt(e) + 0.12 +
 * 0.11/sqrt(e)) D) with e = n0 n1 / (n0 + n1), Stephens' (1970)
 * small-sample correction as in Numerical Recipes' kstwo.
 */
export function ksAsymptoticPValue(scaled: number, n0: number, n1: number): number {
  const root = Math.sqrt((n0 * n1) / (n0 + n1));
  return kolmogorovSurvival((root + 0.12 + 0.11 / root) * (scaled / (n0 * n1)));
}

/** D and its two-sided p-value for two ascending samples (each at least one value). */
export function ksTwoSample(sorted0: ArrayLike<number>, sorted1: ArrayLike<number>, method: KsMethod = "auto"): { statistic: number; pValue: number } {
  const n0 = sorted0.length;
  const n1 = sorted1.length;
  if (n0 === 0 || n1 === 0) throw new RangeError(`KS test: each sample needs at least 1 value, got ${n0} and ${n1}`);
  const scaled = ksScaledStatistic(sorted0, sorted1);
  const exact = method === "exact" || (method === "auto" && n0 * n1 <= KS_EXACT_LIMIT);
  return { statistic: scaled / (n0 * n1), pValue: exact ? ksExactPValue(scaled, n0, n1) : ksAsymptoticPValue(scaled, n0, n1) };
}
