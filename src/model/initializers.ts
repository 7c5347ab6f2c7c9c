/**
 * Weight initialisation schemes of a ModelSpec (`initializer`). The layers
 * carry their initializers, so `reinitialize`, `cloneFresh`, new heads and
 * grown heads redraw with the same scheme (reinitialize.ts re-creates each
 * layer's own initializer with a seed).
 *
 * - "glorot-normal" (default, tfjs-layers' own for dense and conv2d): kernels
 *   from a normal of sd sqrt(2 / (fan_in + fan_out)) truncated at 2 sd (tfjs
 *   does not rescale, so the variance is 0.774 of that), biases 0.
 * - "glorot-uniform" (Keras's default): kernels U(+-sqrt(6 / (fan_in + fan_out))), biases 0.
 * - "pytorch": PyTorch's default for nn.Linear and nn.Conv2d (their
 *   reset_parameters): kernels kaiming_uniform_(a = sqrt(5)), whose bound
 *   gain * sqrt(3 / fan_in) with gain sqrt(2 / (1 + a^2)) is 1 / sqrt(fan_in);
 *   biases U(+-1 / sqrt(fan_in)). fan_in is the input width of a dense
 *   layer, in_channels * kernel height * kernel width of a conv layer. What
 *   Renate's models start from, so use it to reproduce Renate's numbers.
 * Batch-norm layers start at gamma 1, beta 0 in both (as in both libraries).
 */
import * as tfl from "@tensorflow/tfjs-layers";

/** The values of a ModelSpec's `initializer`. */
export const INITIALIZERS = ["glorot-normal", "glorot-uniform", "pytorch"] as const;
/** One of INITIALIZERS. */
export type InitializerName = (typeof INITIALIZERS)[number];

type Initializer = ReturnType<typeof tfl.initializers.randomUniform>;

/** Kernel and bias initializers of a dense or conv layer with `fanIn` inputs per unit; {} keeps tfjs's defaults. */
export function layerInitializers(
  name: InitializerName | undefined,
  fanIn: number,
): { kernelInitializer?: Initializer; biasInitializer?: Initializer } {
  if (name === undefined || name === "glorot-normal") return {};
  if (name === "glorot-uniform") return { kernelInitializer: tfl.initializers.glorotUniform({}) };
  if (!Number.isInteger(fanIn) || fanIn <= 0) throw new RangeError(`layerInitializers: fanIn must be a positive integer, got ${fanIn}`);
  const bound = 1 / Math.sqrt(fanIn);
  // Two objects: reinitialize.ts gives each weight its own seed.
  return {
    kernelInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound }),
  };
}
