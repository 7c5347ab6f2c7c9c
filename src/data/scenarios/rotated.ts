/**
 * Rotated scenario (rotated MNIST): every update sees all classes, each image
 * rotated by the update's fixed angle about its centre, with bilinear
 * interpolation and zeros where the rotated image leaves the frame.
 */
import { OptionsError } from "../../errors.js";
import { featureSize, type Dataset } from "../dataset.js";
import { classesPresent } from "../dataset_ops.js";
import {
  SHARED_TASK_ID,
  checkInteger,
  checkSeed,
  checkTrainTest,
  sampleRows,
  seededRandom,
  type ScenarioData,
  type ScenarioUpdate,
} from "./common.js";

/** Options of `rotatedImages`. */
export interface RotatedOptions extends ScenarioData {
  /** Number of updates; optional when `angles` is given (then it must match). */
  tasks?: number;
  /** Angle of each update in degrees, counter-clockwise; default 180 * t / tasks (evenly spaced in [0, 180)). */
  angles?: readonly number[];
  /** Seeds the per-task subsampling. */
  seed: number;
  /** [h, w] or [h, w, c] when featureShape is flat ([h * w * c]); default featureShape itself. */
  imageShape?: readonly number[];
  /** Train samples drawn (without replacement, seeded) for each update; default all. */
  trainPerTask?: number;
  /** Test samples drawn for each update; default all. */
  testPerTask?: number;
}

/** Updates that share the label space (taskId "default_task") and differ by the angle images are rotated by. */
export function rotatedImages(options: RotatedOptions): ScenarioUpdate[] {
  const scenario = "rotatedImages";
  checkTrainTest(scenario, options);
  const seed = checkSeed(scenario, options.seed);
  const angles = rotationAngles(scenario, options);
  const image = imageDims(scenario, options.imageShape ?? options.train.featureShape, options.train.featureShape);
  const classes = classesPresent(options.train);
  return angles.map((angle, t) => {
    const plan = rotationPlan(image.height, image.width, angle);
    const trainRows = sampleRows(scenario, "trainPerTask", options.train.length, options.trainPerTask,
      seededRandom(seed, "rotated-train-rows", t));
    const testRows = sampleRows(scenario, "testPerTask", options.test.length, options.testPerTask,
      seededRandom(seed, "rotated-test-rows", t));
    return {
      taskId: SHARED_TASK_ID,
      train: rotatedRows(options.train, trainRows, plan, image.channels),
      test: rotatedRows(options.test, testRows, plan, image.channels),
      classes: [...classes],
    };
  });
}

function rotationAngles(scenario: string, options: RotatedOptions): number[] {
  if (options.angles === undefined) {
    const tasks = checkInteger(scenario, "tasks", options.tasks, 1);
    return Array.from({ length: tasks }, (_, t) => (180 * t) / tasks);
  }
  if (!Array.isArray(options.angles) || options.angles.length === 0) {
    throw new OptionsError(`${scenario}: angles must be a non-empty list of degrees, got ${JSON.stringify(options.angles)}`);
  }
  options.angles.forEach((angle, i) => {
    if (typeof angle !== "number" || !Number.isFinite(angle)) {
      throw new OptionsError(`${scenario}: angles[${i}] = ${String(angle)} is not a finite number of degrees`);
    }
  });
  if (options.tasks !== undefined && options.tasks !== options.angles.length) {
    throw new OptionsError(`${scenario}: tasks = ${options.tasks} but ${options.angles.length} angles were given`);
  }
  return [...options.angles];
}

function imageDims(
  scenario: string,
  shape: readonly number[],
  featureShape: readonly number[],
): { height: number; width: number; channels: number } {
  const [height, width, channels = 1, ...rest] = shape;
  const valid = Array.isArray(shape) && shape.every((dim) => Number.isInteger(dim) && dim > 0);
  if (!valid || height === undefined || width === undefined || rest.length > 0) {
    throw new OptionsError(
      `${scenario}: images must have shape [h, w] or [h, w, c], got [${shape.join(", ")}]` +
        (shape.length === 1 ? "; pass imageShape for flat features" : ""),
    );
  }
  if (featureSize(shape) !== featureSize(featureShape)) {
    throw new OptionsError(
      `${scenario}: imageShape [${shape.join(", ")}] holds ${featureSize(shape)} values but the samples ` +
        `(featureShape [${featureShape.join(", ")}]) hold ${featureSize(featureShape)}`,
    );
  }
  return { height, width, channels };
}

/** cos and sin of an angle in degrees, exact at multiples of 90 so those rotations move pixels without blur. */
function cosSinDegrees(degrees: number): [number, number] {
  const turns = ((degrees % 360) + 360) % 360;
  if (turns === 0) return [1, 0];
  if (turns === 90) return [0, 1];
  if (turns === 180) return [-1, 0];
  if (turns === 270) return [0, -1];
  const radians = (degrees * Math.PI) / 180;
  return [Math.cos(radians), Math.sin(radians)];
}

/**
 * For every output pixel, the four source pixels and their bilinear weights;
 * a source outside the image has weight 0 (zero fill) and index 0, so the hot
 * loop needs no branch. Computed once per angle, applied to every image and channel.
 */
interface RotationPlan {
  sources: Int32Array;
  weights: Float32Array;
}

// Source coordinates this close to an integer are snapped to it, so rounding noise
// in cos/sin does not blend in a neighbour with a weight of 1e-16.
const SNAP = 1e-9;

function snap(value: number): number {
  const nearest = Math.round(value);
  return Math.abs(value - nearest) < SNAP ? nearest : value;
}

/**
 * Rotating the image counter-clockwise by `degrees` about its centre: output
 * pixel (row, col) samples the input at that point rotated back, with y
 * pointing up so that counter-clockwise is as seen on screen.
 */
function rotationPlan(height: number, width: number, degrees: number): RotationPlan {
  const [cos, sin] = cosSinDegrees(degrees);
  const centreRow = (height - 1) / 2;
  const centreCol = (width - 1) / 2;
  const pixels = height * width;
  const sources = new Int32Array(4 * pixels);
  const weights = new Float32Array(4 * pixels);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const x = col - centreCol;
      const y = centreRow - row;
      const sourceCol = snap(centreCol + x * cos + y * sin);
      const sourceRow = snap(centreRow + x * sin - y * cos);
      const row0 = Math.floor(sourceRow);
      const col0 = Math.floor(sourceCol);
      const fracRow = sourceRow - row0;
      const fracCol = sourceCol - col0;
      const corners: [number, number, number][] = [
        [row0, col0, (1 - fracRow) * (1 - fracCol)],
        [row0, col0 + 1, (1 - fracRow) * fracCol],
        [row0 + 1, col0, fracRow * (1 - fracCol)],
        [row0 + 1, col0 + 1, fracRow * fracCol],
      ];
      const base = 4 * (row * width + col);
      corners.forEach(([r, c, weight], k) => {
        if (weight > 0 && r >= 0 && r < height && c >= 0 && c < width) {
          sources[base + k] = r * width + c;
          weights[base + k] = weight;
        }
      });
    }
  }
  return { sources, weights };
}

/** The rows `rows` of `ds`, each image rotated with `plan`; channels are interleaved (hwc). */
function rotatedRows(ds: Dataset, rows: Int32Array, plan: RotationPlan, channels: number): Dataset {
  const { sources, weights } = plan;
  const pixels = sources.length / 4;
  const size = pixels * channels;
  const input = ds.features;
  const features = new Float32Array(rows.length * size);
  const labels = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]!;
    const from = row * size;
    const to = k * size;
    for (let pixel = 0; pixel < pixels; pixel++) {
      const tap = 4 * pixel;
      const s0 = from + sources[tap]! * channels;
      const s1 = from + sources[tap + 1]! * channels;
      const s2 = from + sources[tap + 2]! * channels;
      const s3 = from + sources[tap + 3]! * channels;
      const w0 = weights[tap]!;
      const w1 = weights[tap + 1]!;
      const w2 = weights[tap + 2]!;
      const w3 = weights[tap + 3]!;
      for (let channel = 0; channel < channels; channel++) {
        features[to + pixel * channels + channel] =
          w0 * input[s0 + channel]! + w1 * input[s1 + channel]! + w2 * input[s2 + channel]! + w3 * input[s3 + channel]!;
      }
    }
    labels[k] = ds.labels[row]!;
  }
  return { features, labels, featureShape: ds.featureShape, numClasses: ds.numClasses, length: rows.length };
}

/** One image (hwc, channels interleaved) rotated counter-clockwise by `degrees`, as `rotatedImages` does it. */
export function rotateImage(
  image: Float32Array,
  shape: readonly number[],
  degrees: number,
): Float32Array {
  const dims = imageDims("rotateImage", shape, shape);
  if (image.length !== featureSize(shape)) {
    throw new OptionsError(`rotateImage: shape [${shape.join(", ")}] needs ${featureSize(shape)} values, got ${image.length}`);
  }
  if (!Number.isFinite(degrees)) throw new OptionsError(`rotateImage: degrees = ${degrees} is not finite`);
  const ds: Dataset = { features: image, labels: new Int32Array(1), featureShape: shape, numClasses: 1, length: 1 };
  return rotatedRows(ds, Int32Array.of(0), rotationPlan(dims.height, dims.width, degrees), dims.channels).features;
}
