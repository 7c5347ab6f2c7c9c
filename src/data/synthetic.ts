/**
 * Small learnable data made from a seed: one Gaussian blob per class. The
 * library's own tests train on it, so it has to be separable at the defaults
 * and identical for the same seed on every machine.
 */
import { OptionsError } from "../errors.js";
import { Random, deriveSeed } from "../random.js";
import type { Dataset } from "./dataset.js";

/** Options of `makeGaussianBlobs`. */
export interface GaussianBlobsOptions {
  numClasses: number;
  samplesPerClass: number;
  dims: number;
  /** Seeds the class centres (and, unless `sampleSeed` is given, the samples). */
  seed: number;
  /**
   * Seeds the noise and the shuffle only. A different sampleSeed with the same
   * seed draws fresh samples around the same centres: a test set for a train set.
   */
  sampleSeed?: number;
  /** Standard deviation of every coordinate around its class centre. */
  spread?: number;
  /** Standard deviation of the centre coordinates: larger means further apart classes. */
  separation?: number;
}

/**
 * Draws standard normal numbers with the Box-Muller transform, using both
 * values of each pair.
 */
function normalSampler(random: Random): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u1 = 1 - random.float(); // in (0, 1], so the log is finite
    const u2 = random.float();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new OptionsError(`makeGaussianBlobs: ${name} must be a positive integer, got ${value}`);
  }
}

/**
 * numClasses Gaussian blobs in `dims` dimensions, samplesPerClass samples
 * each, in a seeded random order. Centres are N(0, separation^2) per
 * coordinate, so with dims >= 10 at the defaults the classes are far apart
 * compared with the noise (spread).
 */
export function makeGaussianBlobs(options: GaussianBlobsOptions): Dataset {
  const { numClasses, samplesPerClass, dims, seed, spread = 1, separation = 4 } = options;
  const sampleSeed = options.sampleSeed ?? seed;
  positiveInteger("numClasses", numClasses);
  positiveInteger("samplesPerClass", samplesPerClass);
  positiveInteger("dims", dims);
  for (const [name, value] of [["seed", seed], ["sampleSeed", sampleSeed]] as const) {
    if (!Number.isInteger(value)) throw new OptionsError(`makeGaussianBlobs: ${name} must be an integer, got ${value}`);
  }
  if (!(Number.isFinite(spread) && spread >= 0)) {
    throw new OptionsError(`makeGaussianBlobs: spread must be a finite number >= 0, got ${spread}`);
  }
  if (!(Number.isFinite(separation) && separation > 0)) {
    throw new OptionsError(`makeGaussianBlobs: separation must be a finite number > 0, got ${separation}`);
  }

  // Separate streams, so the centres do not depend on how many samples are drawn.
  const centreNormal = normalSampler(Random.fromSeed(deriveSeed(seed, "blobs", "centres")));
  const centres = new Float64Array(numClasses * dims);
  for (let i = 0; i < centres.length; i++) centres[i] = separation * centreNormal();

  const noise = normalSampler(Random.fromSeed(deriveSeed(sampleSeed, "blobs", "noise")));
  const length = numClasses * samplesPerClass;
  const order = Random.fromSeed(deriveSeed(sampleSeed, "blobs", "shuffle")).permutation(length);
  const features = new Float32Array(length * dims);
  const labels = new Int32Array(length);
  for (let k = 0; k < length; k++) {
    const label = Math.floor(k / samplesPerClass);
    const row = order[k]!;
    labels[row] = label;
    for (let d = 0; d < dims; d++) features[row * dims + d] = centres[label * dims + d]! + spread * noise();
  }
  return { features, labels, featureShape: Object.freeze([dims]), numClasses, length };
}
