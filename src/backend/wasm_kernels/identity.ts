/**
 * Identity (tf.clone) for the wasm backend as the cpu backend does it: the
 * output shares the input's buffer (one more reference), instead of a copy.
 * The gradient tape clones every tensor a gradient needs (a convolution's
 * input, a ReLU's input, a max-pool's input and output): in a small CNN's
 * training step about 30 clones, four of them 3.2M floats, about 7% of the
 * step with the stock copying kernel. Safe for the same reason it is on cpu:
 * no kernel writes into its inputs (the one in-place writer, the fused Adam
 * kernel's moments, writes buffers that only the optimizer holds and never
 * clones). Strings keep the stock kernel.
 *
 * Cast to the tensor's own dtype is the same identity (ReLU's gradient casts
 * its float32 mask to float32: a 3.2M-float copy per convolution layer) and
 * shares the buffer too; a real conversion keeps the stock kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
import { stockKernel, type KernelArgs, type WasmBackend } from "./wasm_heap.js";

/** The override's kernel function. */
export function identityOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend & { incRef(dataId: tf.DataId): void };
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === "string") return stockKernel(tf.Identity)(backend, args.inputs, args.attrs);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** The Cast override: a cast to the same (numeric) dtype shares the buffer; any other keeps the stock kernel. */
export function castOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend & { incRef(dataId: tf.DataId): void };
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { dtype } = (args.attrs ?? {}) as { dtype?: tf.DataType };
  if (dtype !== x.dtype || x.dtype === "string" || x.dtype === "complex64") return stockKernel(tf.Cast)(backend, args.inputs, args.attrs);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
