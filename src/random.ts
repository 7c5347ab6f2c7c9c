/**
 * Seeded randomness for everything relearn draws itself (shuffles, reservoir
 * slots, splits). Built on pure-rand's xoroshiro128+, whose state is four
 * 32-bit numbers: that state is persisted in state folders so a resumed run
 * continues the very same random stream.
 */
import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

export type RandomState = readonly number[];

export class Random {
  private constructor(private readonly generator: JumpableRandomGenerator) {}

  /**
   * A fresh stream for an integer seed (only its low 32 bits count).
   *
   * pure-rand's own seeding, `xoroshiro128plus(seed)`, starts from the state
   * (-1, ~seed, seed, 0), so the first 32-bit output is always ~seed: every
   * fresh stream from a seed below 2^31 (all of `deriveSeed`'s) began with a
   * float >= 0.5 and a draw from the upper half of any range. Here the four
   * state words are instead four mixes of the seed (murmur3's 32-bit
   * finaliser of seed + k * golden ratio, k = 1..4, the SplitMix idea), so
   * nearby seeds give unrelated streams from the first draw on.
   */
  static fromSeed(seed: number): Random {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    return new Random(xoroshiro128plusFromState(seedState(seed | 0)));
  }

  static fromState(state: RandomState): Random {
    return new Random(xoroshiro128plusFromState(state));
  }

  /** A copy of the generator's state; `Random.fromState` resumes from it. */
  state(): number[] {
    return [...this.generator.getState()];
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return uniformInt(this.generator, min, max);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    // 53 random bits from two draws, the usual way to get a full-precision double.
    const high = (this.generator.next() >>> 0) >>> 5; // 27 bits
    const low = (this.generator.next() >>> 0) >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [index: number]: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = values[i]!;
      values[i] = values[j]!;
      values[j] = tmp;
    }
    return values;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }
}

/** murmur3's 32-bit finaliser: a bijection whose output bits each depend on every input bit. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

/**
 * The four xoroshiro128+ state words for a seed. They cannot all be 0 (the
 * one state the generator never leaves): mix32 is a bijection and the four
 * inputs differ, so at most one of them maps to 0.
 */
export function seedState(seed: number): number[] {
  const golden = 0x9e3779b9;
  return [1, 2, 3, 4].map((k) => mix32((seed + Math.imul(k, golden)) | 0));
}

/**
 * A 31-bit seed derived from a base seed and a path of names/numbers
 * (FNV-1a). Lets every phase, epoch and update draw from its own stream
 * without storing all those streams: resuming only needs the base seed and
 * the counters.
 */
export function deriveSeed(seed: number, ...path: (string | number)[]): number {
  let hash = 0x811c9dc5;
  const text = [seed, ...path].join("/");
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) & 0x7fffffff;
}
