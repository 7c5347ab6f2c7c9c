// The two-sample Kolmogorov-Smirnov test against reference values. Exact p-values: scipy 1.10.1,
// scipy.stats.ks_2samp(a, b, method="exact") (Debian python3-scipy), and one by hand; asymptotic ones:
// scipy.stats.kstwobign.sf(x) at x = (sqrt(e) + 0.12 + 0.11 / sqrt(e)) * D, e = n0 n1 / (n0 + n1).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { kolmogorovSurvival, ksAsymptoticPValue, ksExactPValue, ksScaledStatistic, ksTwoSample } from "../../src/drift/kolmogorov_smirnov.js";

const ascending = (values: number[]) => Float64Array.from(values).sort();
const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

test("exact KS p-values match scipy's ks_2samp(method='exact'), with ties and unequal sizes", () => {
  const cases: [number[], number[], number, number][] = [
    [[0.1, 0.5, 0.9, 1.3], [0.2, 1.5, 2.0, 2.5, 3.0], 0.8, 0.07936507936507936],
    [[1, 2, 2, 3], [2, 3, 3, 4, 5], 0.55, 0.4285714285714286],
    [[0.3, -1.2, 0.8, 2.2, 0.0, 1.1, -0.4], [0.5, 1.9, 2.8, 0.9, 3.1, 1.7], 0.5714285714285714, 0.14685314685314685],
  ];
  for (const [a, b, d, p] of cases) {
    const result = ksTwoSample(ascending(a), ascending(b), "exact");
    close(result.statistic, d);
    close(result.pValue, p);
  }
});

test("fully separated samples of 6: D = 1, p = 2 / C(12, 6) = 2/924 by hand (both orders of the blocks)", () => {
  const result = ksTwoSample(ascending([1, 2, 3, 4, 5, 6]), ascending([7, 8, 9, 10, 11, 12]), "exact");
  assert.equal(result.statistic, 1);
  close(result.pValue, 2 / 924);
});

test("Kolmogorov's survival function matches scipy's kstwobign.sf on both sides of the series switch", () => {
  const reference: [number, number][] = [
    [0.3, 0.9999906941986655],
    [0.5, 0.9639452436648751],
    [0.9, 0.3927307079406543],
    [1.0, 0.26999967167735456],
    [1.2, 0.11224966667072497],
    [2.0, 0.0006709252557796953],
  ];
  for (const [x, q] of reference) close(kolmogorovSurvival(x), q, 1e-14);
  assert.equal(kolmogorovSurvival(0), 1);
});

test("asymptotic KS p-values (Stephens' correction) match scipy's kstwobign", () => {
  const reference: [number, number, number, number][] = [
    [0.3, 100, 80, 0.00048188424688092225],
    [0.1, 500, 400, 0.021762276676177163],
    [0.05, 1000, 1500, 0.09656520616451819],
  ];
  for (const [d, n0, n1, p] of reference) close(ksAsymptoticPValue(d * n0 * n1, n0, n1), p, 1e-13);
});

test("D is symmetric in the samples and D = 0 gives p = 1; the exact p-value never increases with D", () => {
  const sample = fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(sample, sample, (a, b) => {
      const [x, y] = [ascending(a), ascending(b)];
      const scaled = ksScaledStatistic(x, y);
      assert.equal(ksScaledStatistic(y, x), scaled);
      close(ksTwoSample(x, y, "exact").pValue, ksTwoSample(y, x, "exact").pValue, 1e-13);
      close(ksTwoSample(x, x, "exact").pValue, 1, 1e-13);
      for (let s = 1; s <= x.length * y.length; s++) assert.ok(ksExactPValue(s, x.length, y.length) <= ksExactPValue(s - 1, x.length, y.length) + 1e-13);
    }),
    { numRuns: 100 },
  );
});

test("small exact p-values keep their digits (a sum over first exits, not 1 minus the inside share): scipy's ks_2samp", () => {
  // scipy 1.10.1 ks_2samp(method="exact"): a = arange(30)/30, b = arange(25)/25 + 0.7; a = arange(40), b = arange(35) + 25.5.
  const grid = (n: number, step: number, offset: number) => Float64Array.from({ length: n }, (_, k) => k * step + offset);
  const first = ksTwoSample(grid(30, 1 / 30, 0), grid(25, 1 / 25, 0.7), "exact");
  close(first.pValue / 1.6060123651530634e-7, 1, 1e-9);
  const second = ksTwoSample(grid(40, 1, 0), grid(35, 1, 25.5), "exact");
  close(second.statistic, 0.65);
  close(second.pValue / 5.692689045014307e-8, 1, 1e-9);
});

test("exact p-values equal the share of all C(n0 + n1, n0) splits of distinct values with D at least as large (enumerated)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 1 << 12 }), (n0, n1, pick) => {
      const n = n0 + n1;
      const splits: number[][] = [];
      for (let mask = 0; mask < 1 << n; mask++) {
        if (popcount(mask) === n0) splits.push(Array.from({ length: n }, (_, k) => (mask >> k) & 1));
      }
      const scaledOf = (split: number[]) => {
        const values = split.map((inFirst, k) => [inFirst, k] as const);
        return ksScaledStatistic(values.filter(([f]) => f === 1).map(([, k]) => k), values.filter(([f]) => f === 0).map(([, k]) => k));
      };
      const observed = scaledOf(splits[pick % splits.length]!);
      const share = splits.filter((split) => scaledOf(split) >= observed).length / splits.length;
      close(ksExactPValue(observed, n0, n1), share, 1e-12);
    }),
    { numRuns: 150 },
  );
});

function popcount(mask: number): number {
  let count = 0;
  for (let m = mask; m > 0; m >>= 1) count += m & 1;
  return count;
}

test("an empty sample is refused", () => {
  assert.throws(() => ksTwoSample([], [1]), /at least 1 value/);
});
