/**
 * The active backend's registered kernels as plain function calls on
 * TensorInfos, for the whole-step training path (dense_chain_step.ts and the
 * losses it differentiates, step_losses.ts): no engine dispatch, no Tensor
 * per output, no tape. Every output is a temporary, freed by `releaseAll`
 * unless the caller `keep`s it as a Tensor (then the engine owns it).
 *
 * Works on backends whose kernels take TensorInfos and expose disposeData
 * (wasm, cpu); the training loop uses the path there only.
 */
import * as tf from "@tensorflow/tfjs-core";

interface KernelBackendWithData extends tf.KernelBackend {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** The kernels of the active backend as plain calls; every output is recorded as a temporary until `keep`. */
export class KernelCalls {
  private readonly backend = tf.backend() as KernelBackendWithData;
  private readonly backendName = tf.getBackend();
  private readonly temporaries: tf.TensorInfo[] = [];

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}): tf.TensorInfo {
    return this.runAll(kernelName, inputs, attrs)[0]!;
  }

  /** A kernel with several outputs: all of them, in the kernel's order. */
  runAll(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}): tf.TensorInfo[] {
    const config = tf.getKernel(kernelName, this.backendName);
    if (config === undefined) throw new Error(`backend "${this.backendName}" has no ${kernelName} kernel`);
    const output = config.kernelFunc({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap });
    const outputs = Array.isArray(output) ? output : [output];
    this.temporaries.push(...outputs);
    return outputs;
  }

  /** A Tensor owning `info` (a temporary): the engine tracks and frees it from now on. */
  keep<T extends tf.Tensor>(info: tf.TensorInfo): T {
    const index = this.temporaries.findIndex((t) => t.dataId === info.dataId);
    if (index >= 0) this.temporaries.splice(index, 1);
    return tf.engine().makeTensorFromTensorInfo(info) as T;
  }

  /** Frees every temporary not kept. */
  releaseAll(): void {
    for (const info of this.temporaries.splice(0)) this.backend.disposeData(info.dataId);
  }
}

/** The same buffer under another shape (a contiguous reshape moves nothing). */
export function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}
