/**
 * ContinualModel: a tfjs-layers body (input -> features) plus heads. A
 * multi-head model has one Dense head per task id, added the first time the
 * task is seen; a single-head model shares one head across tasks. A user's
 * own LayersModel is wrapped whole: it is single-head and its output is the
 * logits.
 *
 * Everything random is seeded: building, re-initialising, cloning, new heads
 * and dropout masks derive their seeds from one base seed (see deriveSeed),
 * so a run repeats bit for bit on the same backend.
 */
import {
  chainForwardEnabled,
  chainLayers,
  compileLayers,
  compileModelChain,
  runChain,
  runChainRecording,
  type ChainForward,
} from "./chain_forward.js";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ModelError } from "../errors.js";
import { deriveSeed } from "../random.js";
import { DEFAULT_TASK_ID, type RowTasks } from "../task_id.js";
import { buildBody, lastDim } from "./build.js";
import { denseChainSteps, type DenseChainStep } from "./dense_chain.js";
import { frozenStatefulLayers, ownWeights, reachableLayers, type Layer } from "./frozen.js";
import { reinitializeLayer } from "./reinitialize.js";
import { layerInitializers } from "./initializers.js";
import type { ModelSpec } from "./spec.js";
import { parseModelSpec } from "./spec.js";

export { DEFAULT_TASK_ID, type RowTasks } from "../task_id.js";

interface Head {
  layer: Layer;
  /** The head's symbolic output, to assemble the saved model. */
  output: tfl.SymbolicTensor;
}

/** What `saveModel` stores in userDefinedMetadata.relearn to rebuild a ContinualModel. */
export interface ContinualModelMetadata {
  format: 1;
  source: "spec" | "layers";
  spec?: ModelSpec;
  multiHead: boolean;
  seed: number;
  taskIds: string[];
  /** Head layer name of each task id, in taskIds order (empty for a user model). */
  headLayers: string[];
  /**
   * Weights (originalName) frozen by any flag: tfjs saves `trainable` only on
   * plain layers, not on a nested model or a single weight, so a reload would
   * otherwise train what the user froze. Absent when nothing is frozen.
   */
  frozenWeights?: string[];
}

// tfjs Dropout layers (and subclasses like SpatialDropout1D) read `this.seed` on every call.
const DropoutLayer = tfl.layers.dropout({ rate: 0.5 }).constructor as abstract new (...args: never[]) => Layer;
// Layers that draw random numbers without any seed hook: runs with them cannot repeat.
const UNSEEDABLE = new Set(["GaussianNoise", "GaussianDropout", "AlphaDropout"]);

export class ContinualModel {
  readonly multiHead: boolean;
  /** Shape of one input sample (without the batch dimension). */
  readonly inputShape: number[];
  private builtSpec: ModelSpec | undefined;
  private classes: number;
  private baseSeed: number;
  private readonly heads = new Map<string, Head>();
  private builtDropoutSeeds: Map<Layer, number | undefined> | undefined;
  /** Compiled training forwards by task id (null: not a plain chain). */
  private readonly trainingChains = new Map<string, ChainForward | null>();
  /** Dense-chain steps by task id, for the whole-step training path (null: not a plain dense chain). */
  private readonly denseChains = new Map<string, DenseChainStep[] | null>();
  /** Compiled training forwards of the body alone and of each head alone (rows of several tasks). */
  private readonly partChains = new Map<Layer | tfl.LayersModel, ChainForward | null>();
  /** The body with extra outputs at tapped layers, by list of layer names (see tappedBody). */
  private readonly tappedBodies = new Map<string, { model: tfl.LayersModel; picks: number[] }>();
  private disposed = false;
  /** Whether any layer keeps state (batch norm); computed on the first training forward. */
  private bodyHasState: boolean | undefined;

  private constructor(
    private readonly body: tfl.LayersModel,
    options: { spec?: ModelSpec; multiHead: boolean; seed: number; numClasses: number },
  ) {
    this.builtSpec = options.spec;
    this.multiHead = options.multiHead;
    this.baseSeed = options.seed;
    this.classes = options.numClasses;
    this.inputShape = inputShapeOf(body);
  }

  /** Builds a spec's model with weights seeded from `seed` (same spec + seed -> identical weights). */
  static build(spec: ModelSpec, { seed }: { seed: number }): ContinualModel {
    const valid = parseModelSpec(spec);
    const model = new ContinualModel(buildBody(valid), {
      spec: valid,
      multiHead: valid.multiHead === true,
      seed,
      numClasses: valid.classes,
    });
    model.reinitializeBody(seed);
    if (!model.multiHead) model.addHead(DEFAULT_TASK_ID);
    return model;
  }

  /**
   * Wraps a user-built LayersModel (Sequential or functional): one input, one
   * output of shape [batch, classes], which is taken as the logits. The
   * weights are kept as they are; `seed` only seeds later operations. The
   * ContinualModel owns the LayersModel from now on (dispose() disposes it).
   */
  static fromLayersModel(model: tfl.LayersModel, { seed = 0 }: { seed?: number } = {}): ContinualModel {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new ModelError(
        `model "${model.name}" has ${model.inputs.length} inputs and ${model.outputs.length} outputs; ` +
          `relearn needs exactly one input and one output (the logits)`,
      );
    }
    const outputShape = model.outputs[0]!.shape;
    const classes = outputShape[1];
    if (outputShape.length !== 2 || typeof classes !== "number") {
      throw new ModelError(
        `model "${model.name}" outputs shape ${formatShape(outputShape)}; relearn needs logits of shape [batch, classes]`,
      );
    }
    return new ContinualModel(model, { multiHead: false, seed, numClasses: classes });
  }

  /**
   * The spec the model was built from, with `classes` equal to numClasses
   * (growClasses updates it); undefined for a user-built LayersModel.
   */
  get spec(): ModelSpec | undefined {
    return this.builtSpec;
  }

  /** Number of logits of each head. */
  get numClasses(): number {
    return this.classes;
  }

  /**
   * Widens every head from numClasses to `classes` outputs (Avalanche's
   * IncrementalClassifier, applied to all heads of a multi-head model, since
   * they share one width). Head kernels are [features, classes] in tfjs, so
   * each class is a COLUMN: the existing columns of kernel and bias are kept
   * bit for bit; the new ones are drawn by the head's own initializer,
   * seeded from (seed, "grow", task id, old and new count), so growth
   * repeats exactly. The spec's `classes` follows, so a saved model and a
   * state manifest record the new count. A spec-built model only: a user's
   * LayersModel has no head to widen (ModelError). A frozen head (any of its
   * weights `trainable: false`) is a ModelError too: its new classes could
   * never be learned, and growing would change a frozen weight. Growing to
   * fewer classes than numClasses is a ModelError; to the same count a no-op.
   */
  growClasses(classes: number): void {
    this.assertUsable();
    if (!Number.isInteger(classes) || classes < this.classes) {
      throw new ModelError(`cannot grow the output layer from ${this.classes} to ${classes} classes: the class count can only grow`);
    }
    if (classes === this.classes) return;
    const spec = this.builtSpec;
    if (spec === undefined) {
      throw new ModelError(
        `cannot grow the output layer of model "${this.body.name}" from ${this.classes} to ${classes} classes: it is your own ` +
          `LayersModel, whose output is taken whole as the logits. Build it with ${classes} outputs, or use a ModelSpec (mlp(), cnn())`,
      );
    }
    for (const [taskId, head] of this.heads) {
      if (head.layer.trainableWeights.length !== head.layer.weights.length || !head.layer.trainable) {
        throw new ModelError(
          `cannot grow head "${head.layer.name}"${this.multiHead ? ` (task ${JSON.stringify(taskId)})` : ""} to ${classes} classes: ` +
            `it is frozen, so the new classes could never be learned. Unfreeze the head (trainable = true) to grow classes`,
        );
      }
    }
    const grown = [...this.heads].map(([taskId, head]) => [taskId, this.widenedHead(taskId, head.layer, classes)] as const);
    for (const [taskId, head] of grown) {
      // The weights only: the old layer object stays reachable from the body's output node, harmlessly.
      for (const weight of this.heads.get(taskId)!.layer.weights) weight.dispose();
      this.heads.set(taskId, head);
    }
    this.classes = classes;
    this.builtSpec = { ...spec, classes };
    // Compiled forwards hold the old head layers.
    this.trainingChains.clear();
    this.partChains.clear();
    this.denseChains.clear();
  }

  /** A new head layer like `old` with `classes` outputs: old columns copied, new ones freshly drawn. */
  private widenedHead(taskId: string, old: Layer, classes: number): Head {
    const layer = tfl.layers.dense({ units: classes, name: old.name, ...this.headInitializers() }) as Layer;
    const output = layer.apply(this.features()) as tfl.SymbolicTensor;
    reinitializeLayer(layer, deriveSeed(this.baseSeed, "grow", taskId, this.classes, classes));
    const keep = this.classes;
    tf.tidy(() => {
      layer.weights.forEach((weight, i) => {
        const before = old.weights[i]!.read();
        const fresh = weight.read();
        // Kernel [features, classes] and bias [classes]: the class axis is the last.
        const axis = fresh.rank - 1;
        const tail = tf.slice(fresh, fresh.shape.map((_, d) => (d === axis ? keep : 0)), fresh.shape.map((n, d) => (d === axis ? n - keep : n)));
        weight.write(tf.concat([before, tail], axis));
      });
    });
    return { layer, output };
  }

  /** The seed new heads and `reinitialize` without argument derive from. */
  get seed(): number {
    return this.baseSeed;
  }

  /** Task ids with a head, in the order they were added ([DEFAULT_TASK_ID] for a single-head model). */
  taskIds(): string[] {
    return this.multiHead ? [...this.heads.keys()] : [DEFAULT_TASK_ID];
  }

  /** Adds a fresh head for a task id seen for the first time (multi-head only; otherwise a no-op). */
  ensureHead(taskId: string): void {
    this.assertUsable();
    if (this.multiHead && !this.heads.has(taskId)) this.addHead(taskId);
  }

  /** A head's initializers: the spec's scheme (initializers.ts), over the features' width. */
  private headInitializers(): ReturnType<typeof layerInitializers> {
    return layerInitializers(this.builtSpec?.initializer, lastDim(this.features()));
  }

  private addHead(taskId: string): void {
    const layer = tfl.layers.dense({ units: this.numClasses, name: this.headName(taskId), ...this.headInitializers() }) as Layer;
    const output = layer.apply(this.features()) as tfl.SymbolicTensor;
    reinitializeLayer(layer, deriveSeed(this.baseSeed, "head", taskId));
    this.heads.set(taskId, { layer, output });
  }

  /**
   * Logits [batch, classes] for a batch of inputs. `tasks` is one task id
   * for the whole batch, or the task of each row (RowTasks, rows.length =
   * batch): each row then gets the logits of its own task's head (a
   * single-head model has one head and ignores it). `training` switches
   * dropout and batch-norm to training behaviour (batch statistics, moving
   * averages updated). Throws a ModelError for a task without a head.
   */
  getLogits(x: tf.Tensor, tasks: string | RowTasks = DEFAULT_TASK_ID, training = false): tf.Tensor2D {
    return this.forward(x, tasks, training, []).logits;
  }

  /**
   * getLogits plus the outputs of the body layers named in `layers` (in the
   * order named, each [batch, ...the layer's output shape]) from the same
   * forward pass, so a loss can read intermediate features (POD-ER's pooled
   * distillation) and train through them. Names are those of
   * bodyLayerNames(); an unknown name is a ModelError listing them. The
   * caller owns every returned tensor.
   */
  getLogitsAndActivations(
    x: tf.Tensor,
    tasks: string | RowTasks,
    training: boolean,
    layers: readonly string[],
  ): { logits: tf.Tensor2D; activations: tf.Tensor[] } {
    this.tapSteps(layers); // names checked before any work
    return this.forward(x, tasks, training, layers);
  }

  /**
   * Names of the body's layers in forward order, the input layer left out:
   * the layers whose outputs getLogitsAndActivations returns. For a spec
   * model e.g. dense_0, dense_0_relu, dense_1, ... (build.ts names them);
   * the heads are not among them.
   */
  bodyLayerNames(): string[] {
    this.assertUsable();
    return chainLayers(this.body).map((layer) => layer.name);
  }

  private forward(
    x: tf.Tensor,
    tasks: string | RowTasks,
    training: boolean,
    taps: readonly string[],
  ): { logits: tf.Tensor2D; activations: tf.Tensor[] } {
    this.assertUsable();
    this.assertInputShape(x);
    const groups = typeof tasks === "string" ? null : this.groupRows(tasks, x.shape[0]!);
    if (groups !== null && groups.length > 1) return this.forwardGroups(x, groups, training, taps);
    const taskId = typeof tasks === "string" ? tasks : (groups?.[0]?.taskId ?? tasks.taskIds[0] ?? DEFAULT_TASK_ID);
    const head = this.headFor(taskId);
    return tf.tidy(() => {
      // Training runs a plain layer chain as ops (chain_forward.ts: same
      // function, cheaper gradients); everything else goes through tfjs-layers.
      const chain = training && chainForwardEnabled() ? this.trainingChain(taskId) : null;
      if (chain !== null) {
        const { output, recorded } = runChainRecording(chain, x, true, this.tapSteps(taps));
        return { logits: output as tf.Tensor2D, activations: recorded };
      }
      const { features, activations } = this.applyBody(x, training, taps);
      const logits = (head === undefined ? features : head.layer.apply(features, { training })) as tf.Tensor2D;
      return { logits, activations };
    });
  }

  /** The body through tfjs-layers: its features and the outputs of the `taps` layers. */
  private applyBody(x: tf.Tensor, training: boolean, taps: readonly string[]): { features: tf.Tensor; activations: tf.Tensor[] } {
    const forward = () => {
      if (taps.length === 0) return { features: this.body.apply(x, { training }) as tf.Tensor, activations: [] };
      const { model, picks } = this.tappedBody(taps);
      const outputs = [model.apply(x, { training }) as tf.Tensor | tf.Tensor[]].flat();
      return { features: outputs[picks.at(-1)!]!, activations: picks.slice(0, -1).map((i) => outputs[i]!) };
    };
    return training ? this.withFrozenStateInInference(forward) : forward();
  }

  /**
   * The body as a model whose outputs are the tapped layers' and the
   * features (each once: tfjs refuses repeated outputs), sharing the body's
   * layers and weights, and which output each tap and then the features
   * are (`picks`); cached per list of names. Never disposed: disposing it
   * would free the body's weights.
   */
  private tappedBody(taps: readonly string[]): { model: tfl.LayersModel; picks: number[] } {
    const key = JSON.stringify(taps);
    let tapped = this.tappedBodies.get(key);
    if (tapped === undefined) {
      const wanted = taps.map((name) => this.outputInBody(name));
      wanted.push(this.features());
      const outputs = [...new Set(wanted)];
      const model = tfl.model({ inputs: this.body.inputs, outputs, name: "body_taps" });
      tapped = { model, picks: wanted.map((output) => outputs.indexOf(output)) };
      this.tappedBodies.set(key, tapped);
    }
    return tapped;
  }

  /**
   * The symbolic output of layer `name` in the body's graph, found by walking
   * back from the body's output (a nested model also has a node of its own
   * graph, so `layer.output` may be ambiguous when this one is not). A layer
   * applied more than once in the body is a ModelError.
   */
  private outputInBody(name: string): tfl.SymbolicTensor {
    const found = new Set<tfl.SymbolicTensor>();
    const seen = new Set<tfl.SymbolicTensor>();
    const stack = [...this.body.outputs];
    while (stack.length > 0) {
      const tensor = stack.pop()!;
      if (seen.has(tensor)) continue;
      seen.add(tensor);
      const layer = tensor.sourceLayer as unknown as { name: string; inboundNodes: Array<{ inputTensors: tfl.SymbolicTensor[] }> };
      if (layer.name === name) found.add(tensor);
      stack.push(...(layer.inboundNodes[tensor.nodeIndex]?.inputTensors ?? []));
    }
    if (found.size !== 1) {
      throw new ModelError(`layer "${name}" has ${found.size === 0 ? "no" : "more than one"} output in the model's forward pass, so there is no one output to read`);
    }
    return [...found][0]!;
  }

  /** Chain step index of each tapped layer (the body's chain steps come first in every compiled chain). */
  private tapSteps(taps: readonly string[]): number[] {
    if (taps.length === 0) return [];
    const names = this.bodyLayerNames();
    return taps.map((name) => {
      const index = names.indexOf(name);
      if (index < 0) {
        throw new ModelError(`the model has no body layer named "${name}"; its body layers are: ${names.join(", ")}`);
      }
      return index;
    });
  }

  /**
   * The body's output on `x` (batch x ...inputShape) in inference mode,
   * flattened to batch x width: the penultimate-layer features every head
   * reads (what drift detection compares). For a user LayersModel wrapped
   * whole the body is the whole model, so these are its logits. The caller
   * owns the result.
   */
  getFeatures(x: tf.Tensor): tf.Tensor2D {
    this.assertUsable();
    this.assertInputShape(x);
    return tf.tidy(() => {
      const features = this.body.apply(x, { training: false }) as tf.Tensor;
      return tf.reshape(features, [features.shape[0]!, -1]) as tf.Tensor2D;
    });
  }

  /**
   * Runs a training forward pass with every frozen layer that keeps state
   * (batch norm) in inference mode, so training leaves that state as it is
   * (frozen.ts). tfjs would otherwise update a frozen batch norm's moving
   * statistics. The layers' `call` is wrapped for this synchronous pass only.
   */
  private withFrozenStateInInference<T>(forward: () => T): T {
    // Which layers keep state never changes; which are frozen may, between any two steps.
    this.bodyHasState ??= this.allLayers().some((layer) => ownWeights(layer).state.length > 0);
    if (!this.bodyHasState) return forward();
    const layers = frozenStatefulLayers(this.body);
    if (layers.length === 0) return forward();
    type Call = (inputs: unknown, kwargs: Record<string, unknown>) => unknown;
    const fields = layers.map((layer) => layer as unknown as { call: Call });
    const own = fields.map((field) => Object.getOwnPropertyDescriptor(field, "call"));
    for (const field of fields) {
      const call = field.call;
      field.call = (inputs, kwargs) => call.call(field, inputs, { ...kwargs, training: false });
    }
    try {
      return forward();
    } finally {
      fields.forEach((field, i) => {
        const descriptor = own[i];
        if (descriptor === undefined) delete (field as Partial<{ call: Call }>).call;
        else Object.defineProperty(field, "call", descriptor);
      });
    }
  }

  /**
   * A batch whose rows belong to several tasks: the body runs once on the
   * whole batch (so batch-norm sees the batch as a whole), every head of a
   * task present runs on all rows, and each row keeps its own head's logits
   * through a 0/1 mask per task (no per-row tensors; masked rows get exactly
   * zero gradient into the other heads). A mask rather than gather/scatter,
   * because the wasm backend has no UnsortedSegmentSum for gather's gradient.
   */
  private forwardGroups(
    x: tf.Tensor,
    groups: readonly { taskId: string; mask: Float32Array }[],
    training: boolean,
    taps: readonly string[],
  ): { logits: tf.Tensor2D; activations: tf.Tensor[] } {
    const heads = groups.map(({ taskId }) => this.headFor(taskId)!);
    return tf.tidy(() => {
      const { features, activations } = this.runBody(x, training, taps);
      let logits: tf.Tensor | null = null;
      groups.forEach(({ mask }, g) => {
        const own = tf.mul(this.runHead(heads[g]!.layer, features, training), tf.tensor2d(mask, [mask.length, 1]));
        logits = logits === null ? own : tf.add(logits, own);
      });
      return { logits: logits! as tf.Tensor2D, activations };
    });
  }

  /** A compiled op chain of the body or one head, when training and possible; null otherwise. */
  private partChain(part: Layer | tfl.LayersModel, training: boolean): ChainForward | null {
    if (!training || !chainForwardEnabled()) return null;
    if (!this.partChains.has(part)) {
      this.partChains.set(part, part instanceof tfl.LayersModel ? compileModelChain(part) : compileLayers([part]));
    }
    return this.partChains.get(part) ?? null;
  }

  /** The body on `input` (with the outputs of the `taps` layers), as a compiled op chain when training and possible. */
  private runBody(input: tf.Tensor, training: boolean, taps: readonly string[]): { features: tf.Tensor; activations: tf.Tensor[] } {
    const chain = this.partChain(this.body, training);
    if (chain === null) return this.applyBody(input, training, taps);
    const { output, recorded } = runChainRecording(chain, input, true, this.tapSteps(taps));
    return { features: output, activations: recorded };
  }

  /** One head on `features`, as a compiled op chain when training and possible. */
  private runHead(head: Layer, features: tf.Tensor, training: boolean): tf.Tensor {
    const chain = this.partChain(head, training);
    return chain === null ? (head.apply(features, { training }) as tf.Tensor) : runChain(chain, features, true);
  }

  /**
   * Rows of a multi-head batch grouped by task, each group as a 0/1 row mask
   * (tasks in first-appearance order); null for a single-head model.
   */
  private groupRows(tasks: RowTasks, batch: number): { taskId: string; mask: Float32Array }[] | null {
    if (tasks.rows.length !== batch) {
      throw new ModelError(`per-row tasks give ${tasks.rows.length} rows but the batch has ${batch}`);
    }
    if (!this.multiHead) return null;
    const masks = new Map<number, Float32Array>();
    tasks.rows.forEach((task, row) => {
      if (!Number.isInteger(task) || task < 0 || task >= tasks.taskIds.length) {
        throw new ModelError(`row ${row} has task index ${task}, outside the ${tasks.taskIds.length} task ids given`);
      }
      let mask = masks.get(task);
      if (mask === undefined) masks.set(task, (mask = new Float32Array(batch)));
      mask[row] = 1;
    });
    return [...masks].map(([task, mask]) => ({ taskId: tasks.taskIds[task]!, mask }));
  }

  /** The compiled training forward of body + the head of `taskId`, or null when the layers are not a plain chain. */
  private trainingChain(taskId: string): ChainForward | null {
    const key = this.multiHead ? taskId : DEFAULT_TASK_ID;
    if (!this.trainingChains.has(key)) {
      const body = compileModelChain(this.body);
      const head = this.headFor(taskId);
      const headSteps = head === undefined ? [] : compileLayers([head.layer]);
      this.trainingChains.set(key, body === null || headSteps === null ? null : [...body, ...headSteps]);
    }
    return this.trainingChains.get(key) ?? null;
  }

  /**
   * The training forward of body + the head of `taskId` as dense-chain
   * steps (dense_chain.ts) for the whole-step training path, or null when
   * the model is not a plain chain of Dense, ReLU, Dropout and Flatten layers
   * or the op-chain forward is off (chainForwardEnabled).
   */
  denseTrainingChain(taskId: string): readonly DenseChainStep[] | null {
    this.assertUsable();
    if (!chainForwardEnabled() || this.trainingChain(taskId) === null) return null;
    const key = this.multiHead ? taskId : DEFAULT_TASK_ID;
    if (!this.denseChains.has(key)) {
      const head = this.headFor(taskId);
      this.denseChains.set(key, denseChainSteps([...chainLayers(this.body), ...(head === undefined ? [] : [head.layer])]));
    }
    return this.denseChains.get(key) ?? null;
  }

  /**
   * The trainable variables the loss of `taskId` depends on: the body's and
   * that task's head; for a list of task ids, the body's and each listed
   * task's head once.
   */
  trainableVariables(taskIds: string | readonly string[] = DEFAULT_TASK_ID): tf.Variable[] {
    return this.namedTrainableVariables(taskIds).map(({ variable }) => variable);
  }

  /**
   * The weights of `trainableVariables(taskIds)`, in the same order, each
   * with its name (the weight's originalName, e.g. "dense_0/kernel",
   * "head_task-1/bias"): names stay the same across save and load, class
   * growth and a process restart (spec layers have fixed names), so state
   * kept per weight (EWC's importances) can be matched to the weights again.
   */
  namedTrainableVariables(taskIds: string | readonly string[] = DEFAULT_TASK_ID): { name: string; variable: tf.Variable }[] {
    this.assertUsable();
    const heads = new Set((typeof taskIds === "string" ? [taskIds] : taskIds).map((taskId) => this.headFor(taskId)));
    const weights = [...this.body.trainableWeights, ...[...heads].flatMap((head) => head?.layer.trainableWeights ?? [])];
    return weights.map((weight) => ({ name: weight.originalName, variable: weight.read() as tf.Variable }));
  }

  /**
   * Re-draws every weight IN PLACE with its layer's own initializer, seeded
   * from `seed` and the weight's position; batch-norm moving statistics go
   * back to their initial values. Same seed -> identical weights. Frozen
   * weights (`trainable: false` on a layer, a nested model or the whole
   * model) keep their values bit for bit, and so do the moving statistics of
   * frozen layers (see reinitialize.ts).
   */
  reinitialize(seed: number): void {
    this.assertUsable();
    this.baseSeed = seed;
    this.reinitializeBody(seed);
    for (const [taskId, head] of this.heads) reinitializeLayer(head.layer, deriveSeed(seed, "head", taskId));
  }

  /**
   * A new model with the same architecture and heads and fresh weights
   * seeded from `seed`, as this model would be after `reinitialize(seed)`:
   * frozen weights are copies of this model's. A user model is rebuilt from
   * its config (custom layers must be registered with
   * tf.serialization.registerClass).
   */
  cloneFresh(seed: number): ContinualModel {
    // Copy, then re-initialise: the one re-init path decides what is frozen, so the clone cannot disagree with it.
    const clone = this.clone(seed);
    clone.reinitialize(seed);
    return clone;
  }

  /**
   * A new model with this model's architecture, heads, trainable flags and
   * weights (LwF's frozen teacher); its `seed` is `seed` (default this
   * model's). The caller owns (and disposes) it.
   */
  clone(seed: number = this.baseSeed): ContinualModel {
    this.assertUsable();
    const clone = this.cloneArchitecture(seed);
    const weights = this.snapshotWeights();
    try {
      this.copyTrainabilityTo(clone);
      clone.restoreWeights(weights);
    } catch (error) {
      clone.dispose();
      throw error;
    } finally {
      tf.dispose(weights);
    }
    return clone;
  }

  /**
   * Gives `clone` (same architecture) this model's `trainable` flags: of the
   * body, of every layer and of every weight. A spec rebuild knows none of
   * them and a config rebuild not the per-weight ones.
   */
  private copyTrainabilityTo(clone: ContinualModel): void {
    const layers = [this.body, ...this.allLayers()];
    const cloneLayers = [clone.body, ...clone.allLayers()];
    const mismatch = () => new ModelError(`cannot clone model "${this.body.name}": the rebuilt model has other layers or weights`);
    if (layers.length !== cloneLayers.length) throw mismatch();
    // Layers first: setting a layer's flag rewrites its weights' flags.
    layers.forEach((layer, i) => {
      if (cloneLayers[i]!.trainable !== layer.trainable) cloneLayers[i]!.trainable = layer.trainable;
    });
    // Weights paired in creation order: `weights` orders them by their flags, which may still differ here.
    layers.forEach((layer, i) => {
      const own = ownWeights(layer).trainable;
      const twins = ownWeights(cloneLayers[i]!).trainable;
      if (own.length !== twins.length) throw mismatch();
      own.forEach((weight, j) => {
        twins[j]!.trainable = weight.trainable;
      });
    });
  }

  /**
   * Names (originalName) of every weight no training moves: weights outside
   * the trainable weights of the body and heads, and the state (batch-norm
   * statistics) of frozen layers. saveModel records them (see freezeWeights).
   */
  frozenWeightNames(): string[] {
    this.assertUsable();
    const roots = [this.body, ...[...this.heads.values()].map((head) => head.layer)];
    const trainable = new Set(roots.flatMap((root) => root.trainableWeights));
    const state = new Set(this.allLayers().flatMap((layer) => ownWeights(layer).state));
    const frozenState = new Set(roots.flatMap((root) => frozenStatefulLayers(root)).flatMap((layer) => ownWeights(layer).state));
    return this.allWeights()
      .filter((weight) => (state.has(weight) ? frozenState.has(weight) : !trainable.has(weight)))
      .map((weight) => weight.originalName);
  }

  /**
   * Freezes the weights named (as frozenWeightNames gives them): each gets
   * `trainable = false`, and a layer whose state is named is frozen whole
   * (so its statistics stay put in training, frozen.ts). A ModelError names
   * a weight the model does not have.
   */
  freezeWeights(names: readonly string[]): void {
    this.assertUsable();
    const wanted = new Set(names);
    const weights = this.allWeights();
    const known = new Set(weights.map((weight) => weight.originalName));
    const unknown = names.filter((name) => !known.has(name));
    if (unknown.length > 0) throw new ModelError(`cannot freeze weights ${unknown.map((n) => `"${n}"`).join(", ")}: the model has none of that name`);
    // Layers first: setting a layer's flag rewrites its weights' flags.
    for (const layer of this.allLayers()) {
      if (ownWeights(layer).state.some((weight) => wanted.has(weight.originalName))) layer.trainable = false;
    }
    for (const weight of weights) if (wanted.has(weight.originalName)) weight.trainable = false;
  }

  /**
   * Gives `other` (same architecture) this model's trainable flags, so both
   * list their weights in the same order (tfjs puts trainable ones first).
   * Used when a state's weights are copied into the model a user gave.
   */
  shareTrainabilityWith(other: ContinualModel): void {
    this.copyTrainabilityTo(other);
  }

  /** A model of the same architecture and heads (weights and trainable flags not yet this model's). */
  private cloneArchitecture(seed: number): ContinualModel {
    if (this.spec !== undefined) {
      const clone = ContinualModel.build(this.spec, { seed });
      for (const taskId of this.heads.keys()) clone.ensureHead(taskId);
      return clone;
    }
    const className = this.body.getClassName();
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
    if (entry === undefined) throw new ModelError(`cannot clone model "${this.body.name}": class ${className} is not registered`);
    let rebuilt: tfl.LayersModel;
    try {
      rebuilt = entry[1](entry[0], this.body.getConfig()) as unknown as tfl.LayersModel;
    } catch (error) {
      throw new ModelError(`cannot clone model "${this.body.name}" from its config: ${(error as Error).message}`, { cause: error });
    }
    return ContinualModel.fromLayersModel(rebuilt, { seed });
  }

  /**
   * Seeds every Dropout layer for the next forward passes. tfjs Dropout with
   * a fixed seed draws the SAME mask on every call (and without one it uses
   * Math.random, so runs cannot repeat); the training loop therefore calls
   * this once per step with a seed derived from (run seed, step): masks
   * differ between steps yet a rerun draws the very same masks.
   */
  setDropoutSeed(seed: number): void {
    this.assertUsable();
    const dropouts = this.allLayers().filter((layer) => layer instanceof DropoutLayer);
    this.builtDropoutSeeds ??= new Map(dropouts.map((layer) => [layer, dropoutSeedOf(layer)]));
    dropouts.forEach((layer, index) => setDropoutSeedOf(layer, deriveSeed(seed, "dropout", index)));
  }

  /**
   * Names of layers that draw random numbers tfjs offers no seed for
   * (GaussianNoise, GaussianDropout, AlphaDropout, RNN dropout): with any of
   * them, training cannot repeat exactly.
   */
  unseedableRandomLayers(): string[] {
    return this.allLayers()
      .filter((layer) => {
        if (UNSEEDABLE.has(layer.getClassName())) return true;
        const fields = layer as unknown as { dropout?: unknown; recurrentDropout?: unknown };
        return (
          !(layer instanceof DropoutLayer) &&
          ((typeof fields.dropout === "number" && fields.dropout > 0) ||
            (typeof fields.recurrentDropout === "number" && fields.recurrentDropout > 0))
        );
      })
      .map((layer) => layer.name);
  }

  /** Copies of every weight, in a fixed order; the caller owns (and disposes) them. */
  snapshotWeights(): tf.Tensor[] {
    this.assertUsable();
    return this.allWeights().map((weight) => tf.keep(weight.read().clone()));
  }

  /** Writes back weights taken by snapshotWeights (the snapshot stays the caller's). */
  restoreWeights(snapshot: readonly tf.Tensor[]): void {
    this.assertUsable();
    const weights = this.allWeights();
    if (snapshot.length !== weights.length) {
      throw new ModelError(`snapshot has ${snapshot.length} tensors but the model has ${weights.length} weights`);
    }
    weights.forEach((weight, i) => {
      const value = snapshot[i]!;
      if (!tf.util.arraysEqual(value.shape, weight.shape as number[])) {
        throw new ModelError(
          `snapshot tensor ${i} has shape [${value.shape.join(", ")}] but weight "${weight.originalName}" has ${formatShape(weight.shape)}`,
        );
      }
    });
    weights.forEach((weight, i) => weight.write(snapshot[i]!));
  }

  /**
   * Names of the weights holding a NaN or an infinity: one reduction per
   * weight (w * 0 sums to 0 unless w holds one) and a single read for all.
   */
  async nonFiniteWeights(): Promise<string[]> {
    this.assertUsable();
    const weights = this.allWeights();
    if (weights.length === 0) return [];
    const sums = tf.tidy(() => tf.stack(weights.map((weight) => tf.sum(tf.mul(tf.cast(weight.read(), "float32"), 0)))));
    try {
      const values = await sums.data();
      return weights.filter((_, i) => !Number.isFinite(values[i]!)).map((weight) => weight.originalName);
    } finally {
      sums.dispose();
    }
  }

  /** Number of weight values, batch-norm moving statistics included (as Keras's count_params). */
  numParameters(): number {
    return this.allWeights().reduce((sum, weight) => sum + weight.shape.reduce<number>((n, d) => n * (d ?? 1), 1), 0);
  }

  /** Frees every weight (the wrapped LayersModel's too). The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const weight of this.allWeights()) weight.dispose();
    this.disposed = true;
  }

  /**
   * The whole model as ONE LayersModel (one output per head, in taskIds()
   * order) plus the metadata to rebuild this ContinualModel; shares weights
   * with this model. Used by saveModel.
   */
  toLayersModel(): { model: tfl.LayersModel; metadata: ContinualModelMetadata } {
    this.assertUsable();
    const metadata: ContinualModelMetadata = {
      format: 1,
      source: this.spec === undefined ? "layers" : "spec",
      multiHead: this.multiHead,
      seed: this.baseSeed,
      taskIds: this.spec === undefined ? [DEFAULT_TASK_ID] : [...this.heads.keys()],
      headLayers: [...this.heads.values()].map((head) => head.layer.name),
    };
    if (this.spec !== undefined) metadata.spec = this.spec;
    const frozen = this.frozenWeightNames();
    if (frozen.length > 0) metadata.frozenWeights = frozen;
    if (this.heads.size === 0) return { model: this.body, metadata };
    const outputs = [...this.heads.values()].map((head) => head.output);
    return { model: tfl.model({ inputs: this.body.inputs, outputs, name: "relearn_model" }), metadata };
  }

  /** Rebuilds a ContinualModel from a model written by toLayersModel (see loadModel). */
  static fromSavedLayersModel(model: tfl.LayersModel, metadata: ContinualModelMetadata): ContinualModel {
    const restored = ContinualModel.restoreSaved(model, metadata);
    restored.freezeWeights(metadata.frozenWeights ?? []);
    return restored;
  }

  private static restoreSaved(model: tfl.LayersModel, metadata: ContinualModelMetadata): ContinualModel {
    if (metadata.source === "layers") return ContinualModel.fromLayersModel(model, { seed: metadata.seed });
    if (metadata.spec === undefined) throw new ModelError("saved model metadata has source \"spec\" but no spec");
    const spec = parseModelSpec(metadata.spec);
    if (metadata.headLayers.length !== metadata.taskIds.length) {
      throw new ModelError(`saved model metadata lists ${metadata.taskIds.length} task ids but ${metadata.headLayers.length} heads`);
    }
    const heads = metadata.headLayers.map((name) => {
      try {
        return model.getLayer(name);
      } catch (error) {
        throw new ModelError(`saved model has no head layer named "${name}"`, { cause: error });
      }
    });
    const features = heads[0]?.input as tfl.SymbolicTensor | undefined;
    const body = features === undefined ? model : tfl.model({ inputs: model.inputs, outputs: features, name: "body" });
    const restored = new ContinualModel(body, {
      spec,
      multiHead: metadata.multiHead,
      seed: metadata.seed,
      numClasses: spec.classes,
    });
    heads.forEach((layer, i) => {
      restored.heads.set(metadata.taskIds[i]!, { layer, output: layer.output as tfl.SymbolicTensor });
    });
    return restored;
  }

  /**
   * Runs `save` with the Dropout seeds the model was built with, so a saved
   * file does not depend on the training step it was written at.
   */
  async withBuiltDropoutSeeds<T>(save: () => Promise<T>): Promise<T> {
    const built = this.builtDropoutSeeds;
    if (built === undefined) return save();
    const current = [...built.keys()].map((layer) => [layer, dropoutSeedOf(layer)] as const);
    for (const [layer, seed] of built) setDropoutSeedOf(layer, seed);
    try {
      return await save();
    } finally {
      for (const [layer, seed] of current) setDropoutSeedOf(layer, seed);
    }
  }

  private reinitializeBody(seed: number): void {
    const insideFrozen = !this.body.trainable;
    this.body.layers.forEach((layer, i) => reinitializeLayer(layer, deriveSeed(seed, "body", i), { insideFrozen }));
  }

  private features(): tfl.SymbolicTensor {
    return this.body.outputs[0]!;
  }

  private headFor(taskId: string): Head | undefined {
    if (!this.multiHead) return this.heads.get(DEFAULT_TASK_ID);
    const head = this.heads.get(taskId);
    if (head === undefined) {
      const known = this.heads.size === 0 ? "none yet" : [...this.heads.keys()].map((id) => JSON.stringify(id)).join(", ");
      throw new ModelError(`no head for task ${JSON.stringify(taskId)} (known tasks: ${known}); call ensureHead first`);
    }
    return head;
  }

  /** Layer names allow letters, digits, "_", "-" and "."; other characters are hex-escaped. */
  private headName(taskId: string): string {
    if (!this.multiHead) return "head";
    const safe = taskId.replace(/[^A-Za-z0-9_.-]/g, (c) => `-${c.codePointAt(0)!.toString(16)}-`);
    const taken = new Set([...this.body.layers, ...[...this.heads.values()].map((h) => h.layer)].map((l) => l.name));
    let name = `head_${safe}`;
    for (let n = 2; taken.has(name); n++) name = `head_${safe}_${n}`;
    return name;
  }

  private allLayers(): Layer[] {
    const roots = [...this.body.layers, ...[...this.heads.values()].map((head) => head.layer)];
    return [...new Set(roots.flatMap((layer) => reachableLayers(layer)))];
  }

  private allWeights(): tfl.LayerVariable[] {
    const weights = [...this.body.weights, ...[...this.heads.values()].flatMap((head) => head.layer.weights)];
    return [...new Set(weights)];
  }

  private assertInputShape(x: tf.Tensor): void {
    const expected = this.inputShape;
    if (x.rank !== expected.length + 1 || expected.some((d, i) => x.shape[i + 1] !== d)) {
      throw new ModelError(
        `input has shape [${x.shape.join(", ")}] but the model takes [batch, ${expected.join(", ")}]`,
      );
    }
  }

  private assertUsable(): void {
    if (this.disposed) throw new ModelError("this ContinualModel was disposed");
  }
}

/** Alias of ContinualModel.build. */
export function buildModel(spec: ModelSpec, options: { seed: number }): ContinualModel {
  return ContinualModel.build(spec, options);
}

function inputShapeOf(model: tfl.LayersModel): number[] {
  const input = model.inputs[0];
  if (input === undefined) throw new ModelError(`model "${model.name}" has no input`);
  const shape = input.shape.slice(1);
  if (shape.some((d) => d === null)) {
    throw new ModelError(`model "${model.name}" has input shape ${formatShape(input.shape)}; only the batch dimension may be unknown`);
  }
  return shape as number[];
}

function dropoutSeedOf(layer: Layer): number | undefined {
  return (layer as unknown as { seed?: number }).seed;
}

function setDropoutSeedOf(layer: Layer, seed: number | undefined): void {
  (layer as unknown as { seed?: number | undefined }).seed = seed;
}

function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "null" : String(d))).join(", ")}]`;
}
