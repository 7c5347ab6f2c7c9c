/**
 * Optimizers as JSON specs (so they can live in config files and state
 * manifests) or as a factory returning any tf.Optimizer. Weight decay follows
 * PyTorch: for "sgd" and "adam" it is the coupled L2 term added to the
 * gradient; "adamw" decays the weights directly (Loshchilov & Hutter), which is
 * the form that works with adaptive learning rates.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import { OptionsError } from "../errors.js";
import { FusedAdam } from "./fused_adam.js";
import { backendRunsFusedSgd, fusedSgdStep } from "./fused_sgd.js";

const learningRate = z.number().positive().finite();
const decay = z.number().min(0).finite();

export const optimizerSpecSchema = z.discriminatedUnion("name", [
  z.strictObject({
    name: z.literal("sgd"),
    learningRate,
    momentum: z.number().min(0).max(1).default(0),
    nesterov: z.boolean().default(false),
    weightDecay: decay.default(0),
  }),
  z.strictObject({
    name: z.literal("adam"),
    learningRate,
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    weightDecay: decay.default(0),
  }),
  z.strictObject({
    name: z.literal("adamw"),
    learningRate,
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    weightDecay: decay.default(0.01),
  }),
]);

/** A JSON optimizer spec, e.g. `{ name: "adam", learningRate: 1e-3 }`. */
export type OptimizerSpec = z.input<typeof optimizerSpecSchema>;
/** Anything that makes a fresh tf.Optimizer; called once per training phase. */
export type OptimizerFactory = () => tf.Optimizer;
export type OptimizerOption = OptimizerSpec | OptimizerFactory;

/**
 * A fresh optimizer for one training phase, with the learning rate settable
 * between steps (for schedules) and weight decay applied the PyTorch way.
 * Adam and AdamW specs run relearn's FusedAdam (one kernel per variable on
 * wasm and cpu); plain SGD specs (no momentum, no decay) one wasm kernel per
 * variable on wasm (fused_sgd.ts); other SGD specs and factories run the
 * tf.Optimizer.
 */
export class TrainingOptimizer {
  readonly baseLearningRate: number;
  /** The tf.Optimizer of an SGD spec or a factory; undefined for Adam/AdamW specs. */
  private readonly optimizer: tf.Optimizer | undefined;
  private readonly adam: FusedAdam | undefined;
  /** Plain SGD (no momentum, no decay): one wasm kernel per variable on wasm (fused_sgd.ts). */
  private readonly plainSgd: boolean = false;
  private readonly coupledDecay: number;
  private learningRate: number;

  constructor(option: OptimizerOption) {
    if (typeof option === "function") {
      this.optimizer = option();
      const lr = (this.optimizer as unknown as { learningRate?: unknown }).learningRate;
      this.baseLearningRate = typeof lr === "number" ? lr : Number.NaN;
      this.coupledDecay = 0;
    } else {
      const parsed = optimizerSpecSchema.safeParse(option);
      if (!parsed.success) throw new OptionsError(`invalid optimizer ${JSON.stringify(option)}: ${z.prettifyError(parsed.error)}`);
      const spec = parsed.data;
      this.baseLearningRate = spec.learningRate;
      if (spec.name === "sgd") {
        this.coupledDecay = spec.weightDecay;
        this.plainSgd = spec.momentum === 0 && spec.weightDecay === 0;
        this.optimizer =
          spec.momentum > 0 ? tf.train.momentum(spec.learningRate, spec.momentum, spec.nesterov) : tf.train.sgd(spec.learningRate);
      } else {
        // FusedAdam applies both kinds of decay itself.
        this.coupledDecay = 0;
        this.adam = new FusedAdam({
          beta1: spec.beta1,
          beta2: spec.beta2,
          epsilon: spec.epsilon,
          coupledDecay: spec.name === "adam" ? spec.weightDecay : 0,
          decoupledDecay: spec.name === "adamw" ? spec.weightDecay : 0,
        });
      }
    }
    this.learningRate = this.baseLearningRate;
  }

  /** Changes the learning rate used by the next steps. */
  setLearningRate(value: number): void {
    if (value === this.learningRate) return;
    if (this.optimizer !== undefined) {
      const target = this.optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate?: unknown };
      if (typeof target.setLearningRate === "function") target.setLearningRate(value);
      else if (typeof target.learningRate === "number") target.learningRate = value; // Adam, RMSProp, ... read it each step
      else throw new OptionsError("this optimizer has no learning rate relearn can change: drop the learning-rate schedule or use a spec");
    }
    this.learningRate = value;
  }

  /** Applies one update for `variables` from `grads` (keyed by variable name). */
  step(grads: tf.NamedTensorMap, variables: readonly tf.Variable[]): void {
    if (this.adam !== undefined) {
      this.adam.step(grads, variables, this.learningRate);
      return;
    }
    if (this.plainSgd && backendRunsFusedSgd()) {
      fusedSgdStep(grads, variables, this.learningRate);
      return;
    }
    const optimizer = this.optimizer!;
    tf.tidy(() => {
      const effective: tf.NamedTensorMap = {};
      for (const variable of variables) {
        const grad = grads[variable.name];
        if (grad == null) continue;
        effective[variable.name] = this.coupledDecay > 0 ? tf.add(grad, tf.mul(variable, this.coupledDecay)) : grad;
      }
      optimizer.applyGradients(effective);
    });
  }

  dispose(): void {
    this.optimizer?.dispose();
    this.adam?.dispose();
  }
}
