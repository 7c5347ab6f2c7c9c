/**
 * Seeded randomness for everything relearn draws itself (shuffles, reservoir
 * slots, splits). Built on pure-rand's xoroshiro128+, whose state is four
 * 32-bit numbers: that state is persisted in state folders so a resumed run
 * continues the very same random stream.
 */
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

export type RandomState = readonly number[];

export class Random {
  private constructor(private readonly generator: JumpableRandomGenerator) {}

  static fromSeed(seed: number): Random {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    return new Random(xoroshiro128plus(seed | 0));
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
