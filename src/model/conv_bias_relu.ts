/**
 * A convolution's bias and ReLU as one op with its own gradient, for the op
 * chain's Conv2D layers (chain_forward.ts) on wasm: relu(conv + bias) by the
 * fused bias + ReLU kernels the whole-step path uses for dense layers
 * (backend/dense_relu_kernels.ts), the conv output viewed as
 * [pixels, filters] rows.
 *
 * Why: with `add` + `relu`, a small CNN's step runs Add and Relu forward and
 * Step, Multiply and Sum (the bias gradient over every pixel) backward on
 * each [batch, height, width, filters] activation: five kernel calls, five
 * buffers and five passes over the largest tensors of the step (about 22 of
 * 149 ms CPU time on the bench's CNN at batch 128). The fused kernels make
 * that one pass each way. Every value is the same float32 operation as in
 * the kernels it replaces (dense_relu.wat); the bias gradient sums the
 * pixels in order, as the stock Sum does. Only on backends with the fused
 * kernels (wasm); elsewhere the caller keeps `add` + `relu`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BIAS_RELU, RELU_BIAS_GRAD, hasDenseReluKernels } from "../backend/dense_relu_kernels.js";
import { BIAS_RELU_POOL, BIAS_RELU_POOL_GRAD, biasReluPoolFits, hasBiasReluPoolKernels } from "../backend/bias_relu_pool_kernels.js";

/** Whether `convBiasRelu` can run on the active backend. */
export function canFuseConvBiasRelu(): boolean {
  return hasDenseReluKernels();
}

/** The fused op; its gradient is the ReLU's masked dy for the conv output and its column sums for the bias. */
const fused = tf.customGrad(((conv: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  const filters = bias.size;
  const rows = tf.reshape(conv, [-1, filters]);
  const y = tf.engine().runKernel(BIAS_RELU, { x: rows, bias }) as tf.Tensor;
  rows.dispose();
  save([y]);
  const value = tf.reshape(y, conv.shape);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const dyRows = tf.reshape(dy, [-1, filters]);
      const [dConv, dBias] = tf.engine().runKernel(RELU_BIAS_GRAD, { dy: dyRows, y: saved[0]! }) as unknown as [tf.Tensor, tf.Tensor];
      dyRows.dispose();
      return [tf.reshape(dConv, conv.shape), dBias];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** relu(conv + bias) for a channels-last conv output and a bias of one value per filter. */
export function convBiasRelu(conv: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return fused(conv, bias);
}

/** maxPool(relu(conv + bias)) with its gradient, both by bias_relu_pool.wat. */
const fusedPool = tf.customGrad(((conv: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  save([conv, bias]);
  return {
    value: tf.engine().runKernel(BIAS_RELU_POOL, { conv, bias }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel(BIAS_RELU_POOL_GRAD, { dy, conv: saved[0]!, bias: saved[1]! }) as unknown as tf.Tensor[],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * maxPool(relu(conv + bias), 2, 2, "valid") for a channels-last conv output:
 * one fused kernel each way (backend/bias_relu_pool_kernels.ts) where the
 * backend has them and the map fits (even sides, a multiple of 4 filters);
 * else convBiasRelu then maxPool. Besides the passes, this saves the ReLU's
 * full-size output, which the pool's gradient kept.
 */
export function convBiasReluPool(conv: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  if (hasBiasReluPoolKernels() && biasReluPoolFits(conv.shape)) return fusedPool(conv, bias);
  return tf.maxPool(convBiasRelu(conv, bias) as tf.Tensor4D, 2, 2, "valid");
}
