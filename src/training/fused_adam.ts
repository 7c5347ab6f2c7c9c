/**
 * Adam and AdamW with one kernel per variable and step
 * (backend/adam_update_kernel.ts) where the backend has it (wasm, cpu),
 * and the same formula as tfjs ops elsewhere (webgl, webgpu, tfjs-node).
 *
 * Same update as PyTorch's Adam (coupled L2 decay) and AdamW (decoupled
 * decay, applied to the weight before the moment step), and as tfjs's Adam
 * without decay. The bias corrections use beta^t computed exactly, where
 * tfjs multiplies a float32 accumulator each step.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ADAM_UPDATE, SMALLEST_NORMAL, hasAdamUpdateKernel, registerAdamUpdateKernel, type AdamStepAttrs } from "../backend/adam_update_kernel.js";

export interface FusedAdamSettings {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** L2 term added to the gradient (PyTorch Adam's weight_decay). */
  coupledDecay: number;
  /** AdamW's weight decay: w <- w (1 - lr * decoupledDecay) each step. */
  decoupledDecay: number;
}

interface Moments {
  m: tf.Tensor;
  v: tf.Tensor;
}

export class FusedAdam {
  private readonly moments = new Map<string, Moments>();
  private stepsTaken = 0;

  constructor(private readonly settings: FusedAdamSettings) {
    // Already done by backend.ts on import; repeated for users of this file alone.
    registerAdamUpdateKernel();
  }

  /**
   * One step at `learningRate` for the variables with a gradient in
   * `grads` (keyed by variable name). Variables without a gradient keep
   * their value and moments and do not count as stepped.
   */
  step(grads: tf.NamedTensorMap, variables: readonly tf.Variable[], learningRate: number): void {
    this.stepsTaken++;
    const { beta1, beta2, epsilon, coupledDecay, decoupledDecay } = this.settings;
    const attrs: AdamStepAttrs = {
      beta1,
      oneMinusBeta1: 1 - beta1,
      beta2,
      oneMinusBeta2: 1 - beta2,
      epsilon,
      stepSize: learningRate / (1 - beta1 ** this.stepsTaken),
      secondMomentCorrection: 1 / Math.sqrt(1 - beta2 ** this.stepsTaken),
      coupledDecay,
      decoupledFactor: 1 - learningRate * decoupledDecay,
    };
    const fused = hasAdamUpdateKernel();
    for (const variable of variables) {
      const grad = grads[variable.name];
      if (grad == null) continue;
      const previous = this.moments.get(variable.name) ?? { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
      if (fused) {
        // The kernel writes the new moments over the old ones, which only this map holds.
        const value = fusedUpdate(variable, grad, previous, attrs);
        variable.assign(value);
        value.dispose();
        this.moments.set(variable.name, previous);
        continue;
      }
      const [value, m, v] = composedUpdate(variable, grad, previous, attrs);
      variable.assign(value);
      value.dispose();
      tf.dispose([previous.m, previous.v]);
      this.moments.set(variable.name, { m: tf.keep(m), v: tf.keep(v) });
    }
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }
}

/** New value, first moment and second moment of one variable. */
type Updated = [tf.Tensor, tf.Tensor, tf.Tensor];

/**
 * The kernel called directly, not through tf.engine().runKernel: the update
 * is never differentiated, and the engine's bookkeeping (scopes, tape
 * checks, profiling hooks) cost about a quarter of the kernel's own time at
 * batch 32. The new moments overwrite `m` and `v` (inPlaceMoments); the new
 * value is a Tensor the engine tracks, like runKernel's outputs.
 */
function fusedUpdate(variable: tf.Variable, grad: tf.Tensor, { m, v }: Moments, attrs: AdamStepAttrs): tf.Tensor {
  const inputs = { value: variable, grad, m, v } as unknown as tf.NamedTensorInfoMap;
  const kernel = tf.getKernel(ADAM_UPDATE, tf.getBackend())!;
  const inPlace: AdamStepAttrs = { ...attrs, inPlaceMoments: true };
  const [value] = kernel.kernelFunc({ inputs, backend: tf.backend(), attrs: inPlace as unknown as tf.NamedAttrMap }) as tf.TensorInfo[];
  return tf.engine().makeTensorFromTensorInfo(value!);
}

/** The kernel's formula as tfjs ops, for backends without the kernel (exported for its tests). */
export function composedUpdate(variable: tf.Variable, grad: tf.Tensor, { m, v }: Moments, attrs: AdamStepAttrs): Updated {
  return tf.tidy(() => {
    const g = attrs.coupledDecay > 0 ? tf.add(grad, tf.mul(variable, attrs.coupledDecay)) : grad;
    // Subnormal moments are stored as 0, as the fused kernel does (see flushSubnormal).
    const flush = (x: tf.Tensor): tf.Tensor => tf.where(tf.less(tf.abs(x), SMALLEST_NORMAL), tf.zerosLike(x), x);
    const m1 = flush(tf.add(tf.mul(m, attrs.beta1), tf.mul(g, attrs.oneMinusBeta1)));
    const v1 = flush(tf.add(tf.mul(v, attrs.beta2), tf.mul(tf.square(g), attrs.oneMinusBeta2)));
    const decayed = attrs.decoupledFactor !== 1 ? tf.mul(variable, attrs.decoupledFactor) : variable;
    const denominator = tf.add(tf.mul(tf.sqrt(v1), attrs.secondMomentCorrection), attrs.epsilon);
    const value = tf.sub(decayed, tf.div(tf.mul(m1, attrs.stepSize), denominator));
    return [value, m1, v1] as Updated;
  });
}
