/**
 * A model as files, for every host: model.json (topology + weightsManifest +
 * relearn's metadata) and weights.bin, the tfjs "layers-model" format that
 * `tf.loadLayersModel(".../model.json")` loads in a browser. The bytes depend
 * only on the model (no timestamps), so identical models give identical files.
 * Where the files go is the caller's: a state (through its StateWriter /
 * StateReader, see `saveModelFiles`) or a folder in Node (io.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ModelError, StateError } from "../errors.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { ContinualModel, type ContinualModelMetadata } from "./continual_model.js";

/** Topology + weights manifest file of a saved model folder. */
export const MODEL_JSON = "model.json";
/** The one weights file of a saved model folder. */
export const WEIGHTS_BIN = "weights.bin";

/** Key of relearn's entry in model.json's userDefinedMetadata. */
export const METADATA_KEY = "relearn";

const BYTES_PER_VALUE: Record<string, number> = {
  float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2,
};

/** Reads the file `path` (relative to the model folder) or throws a ModelError naming it. */
export type ReadModelFile = (path: string) => Promise<Uint8Array>;
/** Writes the file `path` (relative to the model folder). */
export type WriteModelFile = (path: string, content: Uint8Array | string) => Promise<void>;

/**
 * Writes `artifacts` as model.json + weights.bin through `write`; `where`
 * names the folder in errors. A NaN or infinite weight is refused: a NaN
 * model answers class 0 with NaN probabilities, it must never replace a good one.
 */
export async function writeModelArtifacts(artifacts: tf.io.ModelArtifacts, write: WriteModelFile, where: string): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer || artifacts.modelTopology == null) {
    throw new ModelError(`cannot save to ${where}: only models with a JSON topology can be saved`);
  }
  const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const broken = firstNonFinite(artifacts.weightSpecs ?? [], weightData);
  if (broken !== undefined) {
    throw new ModelError(`cannot save to ${where}: weight "${broken.name}" holds ${broken.value} at index ${broken.index}`);
  }
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
    format: artifacts.format ?? "layers-model",
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
    convertedBy: artifacts.convertedBy ?? null,
  };
  if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata !== undefined) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
  try {
    await write(WEIGHTS_BIN, new Uint8Array(weightData));
    await write(MODEL_JSON, JSON.stringify(modelJson));
  } catch (error) {
    // A store's own refusal (no space, no checksums, a lock lost) stays a StateError.
    if (error instanceof StateError) throw error;
    throw new ModelError(`cannot write the model to ${where}: ${(error as Error).message}`, { cause: error });
  }
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

/**
 * Reads model.json and its weight files through `read` and checks them:
 * sizes as the manifest describes, no NaN or infinite weight. `where` names
 * the folder in errors (ModelErrors naming the file).
 */
export async function readModelArtifacts(read: ReadModelFile, where: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = `${where}/${MODEL_JSON}`;
  const modelJson = parseModelJson(await read(MODEL_JSON), jsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    const groupBuffers: Uint8Array[] = [];
    for (const path of group.paths) groupBuffers.push(await read(path));
    const expected = group.weights.reduce((sum, spec) => sum + byteSize(spec, jsonPath), 0);
    const found = groupBuffers.reduce((sum, b) => sum + b.byteLength, 0);
    if (found !== expected) {
      throw new ModelError(
        `${where}/${group.paths.join(", ")} holds ${found} bytes but ${jsonPath} describes ${expected} ` +
          `(a truncated file, or weights of another model)`,
      );
    }
    specs.push(...group.weights);
    buffers.push(...groupBuffers);
  }
  const weightData = tf.io.concatenateArrayBuffers(buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
  const broken = firstNonFinite(specs, weightData);
  if (broken !== undefined) {
    const files = modelJson.weightsManifest.flatMap((group) => group.paths.map((path) => `${where}/${path}`)).join(", ");
    throw new ModelError(
      `${files} is corrupt: weight "${broken.name}" holds ${broken.value} at index ${broken.index} ` +
        `(saved by a diverged training, or damaged); use an earlier state`,
    );
  }
  return tf.io.getModelArtifactsForJSONSync(modelJson, specs, weightData);
}

/**
 * Saves ONE tfjs LayersModel through `write`: body + heads as a functional
 * model with one output per head (in taskIds() order), relearn's metadata
 * (spec, multiHead, taskIds, seed) in userDefinedMetadata.relearn. A
 * single-head model is a plain single-output model that can be deployed as it is.
 */
export async function writeModel(model: ContinualModel, write: WriteModelFile, where: string): Promise<void> {
  const { model: layersModel, metadata } = model.toLayersModel();
  const withMetadata = tf.io.withSaveHandler((artifacts) =>
    writeModelArtifacts({ ...artifacts, userDefinedMetadata: { ...artifacts.userDefinedMetadata, [METADATA_KEY]: metadata } }, write, where),
  );
  await model.withBuiltDropoutSeeds(() => layersModel.save(withMetadata));
}

/**
 * Loads a model written by writeModel (heads found again by name). A plain
 * tfjs LayersModel without relearn's metadata is wrapped as a user model
 * (single head, its output the logits).
 */
export async function readModel(read: ReadModelFile, where: string): Promise<ContinualModel> {
  const artifacts = await readModelArtifacts(read, where);
  const jsonPath = `${where}/${MODEL_JSON}`;
  const exported = artifacts.userDefinedMetadata?.["relearnExport"] as { outputs?: unknown } | undefined;
  if (exported?.outputs === "probabilities") {
    // Its outputs are softmax probabilities: training or predicting on them as logits would be silently wrong.
    throw new ModelError(`${jsonPath} is a model exported for serving whose outputs are probabilities, not logits: load the state's model (its model/ folder) instead`);
  }
  const metadata = readMetadata(artifacts.userDefinedMetadata?.[METADATA_KEY], jsonPath);
  let layersModel: tfl.LayersModel;
  try {
    layersModel = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw new ModelError(`${jsonPath} does not describe a loadable tfjs LayersModel: ${(error as Error).message}`, { cause: error });
  }
  try {
    return metadata === undefined
      ? ContinualModel.fromLayersModel(layersModel)
      : ContinualModel.fromSavedLayersModel(layersModel, metadata);
  } catch (error) {
    layersModel.dispose();
    throw new ModelError(`${jsonPath}: ${(error as Error).message}`, { cause: error });
  }
}

/** Saves `model` into the subfolder `folder` of a state being written. */
export function saveModelFiles(model: ContinualModel, files: StateWriter, folder: string): Promise<void> {
  return writeModel(model, (path, content) => files.writeFile(`${folder}/${path}`, content), `${files.location}/${folder}`);
}

/** Loads the model in the subfolder `folder` of a state. */
export function loadModelFiles(files: StateReader, folder: string): Promise<ContinualModel> {
  const where = `${files.location}/${folder}`;
  return readModel(async (path) => {
    try {
      return await files.readFile(`${folder}/${path}`);
    } catch (error) {
      throw new ModelError(`cannot read ${where}/${path}: ${(error as Error).message}`, { cause: error });
    }
  }, where);
}

function parseModelJson(bytes: Uint8Array, path: string): tf.io.ModelJSON {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ModelError(`${path} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const json = value as Partial<tf.io.ModelJSON> | null;
  if (typeof json !== "object" || json === null || typeof json.modelTopology !== "object" || json.modelTopology === null) {
    throw new ModelError(`${path} has no modelTopology: it is not a tfjs model.json`);
  }
  const manifest = json.weightsManifest;
  const validManifest =
    Array.isArray(manifest) &&
    manifest.every(
      (group) =>
        Array.isArray(group?.paths) && group.paths.every((p) => typeof p === "string") && Array.isArray(group.weights),
    );
  if (!validManifest) throw new ModelError(`${path} has no valid weightsManifest (a list of { paths, weights })`);
  return json as tf.io.ModelJSON;
}

/**
 * The first NaN or infinity among the float weights of `data` (laid out as
 * `specs` say), or undefined. Quantized weights are integers: skipped.
 */
function firstNonFinite(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
): { name: string; index: number; value: number } | undefined {
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((n, d) => n * d, 1);
    const bytes = byteSize(spec, "weights manifest");
    if (spec.quantization === undefined && (spec.dtype === "float32" || spec.dtype === "complex64")) {
      const length = spec.dtype === "complex64" ? count * 2 : count;
      // A view needs 4-byte alignment, which 1-byte weights (bool) before this one may have broken.
      const values = offset % 4 === 0 ? new Float32Array(data, offset, length) : new Float32Array(data.slice(offset, offset + bytes));
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i]!)) return { name: spec.name, index: i, value: values[i]! };
      }
    }
    offset += bytes;
  }
  return undefined;
}

function byteSize(spec: tf.io.WeightsManifestEntry, path: string): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const perValue = BYTES_PER_VALUE[dtype];
  if (perValue === undefined || !Array.isArray(spec.shape)) {
    throw new ModelError(`${path}: weight "${spec.name}" has dtype ${dtype}, which relearn cannot load`);
  }
  return spec.shape.reduce((n, d) => n * d, 1) * perValue;
}

function readMetadata(value: unknown, path: string): ContinualModelMetadata | undefined {
  if (value === undefined) return undefined;
  const meta = value as Partial<ContinualModelMetadata> | null;
  const valid =
    typeof meta === "object" &&
    meta !== null &&
    meta.format === 1 &&
    (meta.source === "spec" || meta.source === "layers") &&
    typeof meta.multiHead === "boolean" &&
    Number.isInteger(meta.seed) &&
    Array.isArray(meta.taskIds) &&
    meta.taskIds.every((id) => typeof id === "string") &&
    Array.isArray(meta.headLayers) &&
    meta.headLayers.every((name) => typeof name === "string") &&
    (meta.frozenWeights === undefined || (Array.isArray(meta.frozenWeights) && meta.frozenWeights.every((name) => typeof name === "string")));
  if (!valid) throw new ModelError(`${path}: userDefinedMetadata.${METADATA_KEY} is malformed or of an unknown format`);
  return meta as ContinualModelMetadata;
}
