/**
 * Optimizers as JSON specs (so they can live in config files and state
 * manifests) or as a factory returning any tf.Optimizer. Weight decay follows
 * PyTorch: for "sgd" and "adam" it is the coupled L2 term added to the
 * gradient; "adamw" decays the weights directly (Loshchilov & Hutter), which is
 * the form that works with adaptive learning rates.
 */
import * as tf from "@tensorflow/tfjs-core";
import { z } from "zod";
import { OptionsError } from "../errors.js";

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
 */
export class TrainingOptimizer {
  readonly baseLearningRate: number;
  private readonly optimizer: tf.Optimizer;
  private readonly coupledDecay: number;
  private readonly decoupledDecay: number;
  private learningRate: number;

  constructor(option: OptimizerOption) {
    if (typeof option === "function") {
      this.optimizer = option();
      const lr = (this.optimizer as unknown as { learningRate?: unknown }).learningRate;
      this.baseLearningRate = typeof lr === "number" ? lr : Number.NaN;
      this.coupledDecay = 0;
      this.decoupledDecay = 0;
    } else {
      const parsed = optimizerSpecSchema.safeParse(option);
      if (!parsed.success) throw new OptionsError(`invalid optimizer ${JSON.stringify(option)}: ${z.prettifyError(parsed.error)}`);
      const spec = parsed.data;
      this.baseLearningRate = spec.learningRate;
      this.coupledDecay = spec.name === "adamw" ? 0 : spec.weightDecay;
      this.decoupledDecay = spec.name === "adamw" ? spec.weightDecay : 0;
      this.optimizer =
        spec.name === "sgd"
          ? spec.momentum > 0
            ? tf.train.momentum(spec.learningRate, spec.momentum, spec.nesterov)
            : tf.train.sgd(spec.learningRate)
          : tf.train.adam(spec.learningRate, spec.beta1, spec.beta2, spec.epsilon);
    }
    this.learningRate = this.baseLearningRate;
  }

  /** Changes the learning rate used by the next steps. */
  setLearningRate(value: number): void {
    if (value === this.learningRate) return;
    const target = this.optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate?: unknown };
    if (typeof target.setLearningRate === "function") target.setLearningRate(value);
    else if (typeof target.learningRate === "number") target.learningRate = value; // Adam, RMSProp, ... read it each step
    else throw new OptionsError("this optimizer has no learning rate relearn can change: drop the learning-rate schedule or use a spec");
    this.learningRate = value;
  }

  /** Applies one update for `variables` from `grads` (keyed by variable name). */
  step(grads: tf.NamedTensorMap, variables: readonly tf.Variable[]): void {
    tf.tidy(() => {
      const effective: tf.NamedTensorMap = {};
      for (const variable of variables) {
        const grad = grads[variable.name];
        if (grad == null) continue;
        effective[variable.name] = this.coupledDecay > 0 ? tf.add(grad, tf.mul(variable, this.coupledDecay)) : grad;
      }
      if (this.decoupledDecay > 0) {
        // AdamW: w <- w - lr * wd * w, applied before the Adam step as PyTorch does.
        const factor = 1 - this.learningRate * this.decoupledDecay;
        for (const variable of variables) if (effective[variable.name] != null) variable.assign(tf.mul(variable, factor));
      }
      this.optimizer.applyGradients(effective);
    });
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
