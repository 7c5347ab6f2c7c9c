/**
 * The two weight-averaged models of CLS-ER (Arani, Sarfraz and Zonooz, ICLR
 * 2022, "Learning Fast, Learning Slow"; Renate's WeightedCLSLossComponent in
 * learner_components/losses.py): a PLASTIC model that averages the working
 * model's weights often and fast (short-term semantic memory) and a STABLE
 * one that averages them rarely and slowly (long-term). After every
 * optimizer step each takes an EMA step toward the working model with its
 * own probability (ema_weights.ts gives the step and its warm-up); on memory
 * items, whichever of the two gives the item's label the higher probability
 * supplies the logits the working model is pulled toward (consistency).
 *
 * Used by CLS-ER (cls_experience_replay.ts) and reusable by any updater that
 * adds the same consistency term: call begin() before training, afterStep()
 * after each optimizer step, targets() in the loss, end() after training.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as z from "zod";
import { StateError } from "../errors.js";
import type { ContinualModel } from "../model/continual_model.js";
import type { Random } from "../random.js";
import { MANIFEST_FILE } from "../state/format.js";
import type { StateReader, StateWriter } from "../state/store.js";
import type { RowTasks } from "../task_id.js";
import { carryOver, carryOverProblem, emaDecayAt, emaUpdate, loadWeights, saveWeights, type SavedWeights } from "./ema_weights.js";

/** How the two averaged models follow the working model (Renate's names; defaults in CLS-ER's options). */
export interface ClsEmaSettings {
  /** EMA decay of the stable model (its `a` once warmed up), in [0, 1]. */
  stableModelUpdateWeight: number;
  /** EMA decay of the plastic model, in [0, 1]; at most the stable one's. */
  plasticModelUpdateWeight: number;
  /** Chance that the stable model takes an EMA step after an optimizer step, in [0, 1]. */
  stableModelUpdateProbability: number;
  /** Chance for the plastic model; above the stable one's. */
  plasticModelUpdateProbability: number;
}

/**
 * Renate's constraints on the settings (the plastic model follows the
 * working model faster and more often than the stable one): a message
 * naming the options broken (`name` gives an option's name, e.g. with a
 * prefix), or undefined when they hold.
 */
export function clsEmaSettingsProblem(settings: ClsEmaSettings, name: (key: keyof ClsEmaSettings) => string = (key) => key): string | undefined {
  const s = settings;
  if (s.plasticModelUpdateWeight > s.stableModelUpdateWeight) {
    return (
      `${name("plasticModelUpdateWeight")} (${s.plasticModelUpdateWeight}) must not exceed ${name("stableModelUpdateWeight")} ` +
      `(${s.stableModelUpdateWeight}): the plastic model averages over the shorter window`
    );
  }
  if (s.plasticModelUpdateProbability <= s.stableModelUpdateProbability) {
    return (
      `${name("plasticModelUpdateProbability")} (${s.plasticModelUpdateProbability}) must be above ` +
      `${name("stableModelUpdateProbability")} (${s.stableModelUpdateProbability}): the plastic model is updated more often`
    );
  }
  return undefined;
}

/**
 * Consistency targets, per row: the row of `stableLogits` when the stable
 * model gives the row's label a strictly higher softmax probability than
 * the plastic model, else the row of `plasticLogits` (Renate's rule; ties go
 * to the plastic model). Shapes (B, C), (B, C), labels (B,) -> (B, C).
 */
export function consistencyTargets(stableLogits: tf.Tensor2D, plasticLogits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor2D {
  if (!tf.util.arraysEqual(stableLogits.shape, plasticLogits.shape) || labels.shape[0] !== stableLogits.shape[0]) {
    throw new RangeError(
      `consistencyTargets: logits [${stableLogits.shape}] and [${plasticLogits.shape}] and labels [${labels.shape}] do not match`,
    );
  }
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), stableLogits.shape[1]);
    const labelProbability = (logits: tf.Tensor2D) => tf.sum(tf.mul(tf.softmax(logits), oneHot), 1);
    // A (B, 1) condition broadcasts over the classes: whole rows are picked.
    const stableWins = tf.expandDims(tf.greater(labelProbability(stableLogits), labelProbability(plasticLogits)), 1);
    return tf.where(stableWins, stableLogits, plasticLogits) as tf.Tensor2D;
  });
}

const savedClsSchema = z.strictObject({
  /** EMA steps taken over all updates so far (Renate's `iteration`): the warm-up's clock. */
  steps: z.number().int().nonnegative(),
  stable: z.unknown(),
  plastic: z.unknown(),
});

/** The stable and plastic models, between updates as weights, during one as models. */
export class ClsEmaModels {
  /** EMA steps taken over all updates so far (the warm-up's clock; Renate counts across updates too). */
  steps = 0;
  private kept: { stable: tf.Tensor[]; plastic: tf.Tensor[] } | undefined;
  private live: { stable: ContinualModel; plastic: ContinualModel } | undefined;
  private stepsAtBegin = 0;

  constructor(private readonly settings: ClsEmaSettings) {}

  /**
   * Before training: the two models, of `working`'s architecture and
   * trainable flags. The first time both are copies of `working` (Renate
   * deep-copies the model); later the kept averages, carried over to a model
   * that gained heads or classes since (carryOver: new parts start as the
   * working model's).
   */
  begin(working: ContinualModel): void {
    this.end();
    this.stepsAtBegin = this.steps;
    const current = working.snapshotWeights();
    try {
      const build = (kept: readonly tf.Tensor[] | undefined) => {
        const weights = kept === undefined ? current : carryOver(kept, current);
        const model = working.cloneFresh(working.seed);
        try {
          model.restoreWeights(weights);
        } catch (error) {
          model.dispose();
          throw error;
        } finally {
          if (weights !== current) tf.dispose(weights);
        }
        return model;
      };
      const stable = build(this.kept?.stable);
      try {
        this.live = { stable, plastic: build(this.kept?.plastic) };
      } catch (error) {
        stable.dispose();
        throw error;
      }
    } finally {
      tf.dispose(current);
    }
  }

  /**
   * After an optimizer step of `working`: one more step on the clock, then
   * with probability plasticModelUpdateProbability the plastic model takes an
   * EMA step, then with stableModelUpdateProbability the stable one (two
   * draws from `gates`, always both, in Renate's order).
   */
  afterStep(working: ContinualModel, gates: Random): void {
    const live = this.requireLive();
    this.steps++;
    const s = this.settings;
    if (gates.float() < s.plasticModelUpdateProbability) emaUpdate(live.plastic, working, emaDecayAt(this.steps, s.plasticModelUpdateWeight));
    if (gates.float() < s.stableModelUpdateProbability) emaUpdate(live.stable, working, emaDecayAt(this.steps, s.stableModelUpdateWeight));
  }

  /**
   * Consistency targets (B, C) for inputs `x` with labels (B,): both models
   * in inference mode (dropout off, batch-norm moving statistics), each row
   * through its task's head; see consistencyTargets.
   */
  targets(x: tf.Tensor, tasks: string | RowTasks, labels: tf.Tensor1D): tf.Tensor2D {
    const live = this.requireLive();
    return tf.tidy(() => consistencyTargets(live.stable.getLogits(x, tasks, false), live.plastic.getLogits(x, tasks, false), labels));
  }

  /** The models being averaged (between begin and end), e.g. to inspect them. */
  get models(): { stable: ContinualModel; plastic: ContinualModel } {
    return this.requireLive();
  }

  /**
   * After a failed update: the models are freed and the averages (and the
   * step count) stay as they were before begin(). A no-op outside begin/end.
   */
  abandon(): void {
    if (this.live === undefined) return;
    const { stable, plastic } = this.live;
    this.live = undefined;
    this.steps = this.stepsAtBegin;
    stable.dispose();
    plastic.dispose();
  }

  /** After training: the averages are kept as weights and the models freed. A no-op outside begin/end. */
  end(): void {
    if (this.live === undefined) return;
    const { stable, plastic } = this.live;
    this.live = undefined;
    this.disposeKept();
    this.kept = { stable: stable.snapshotWeights(), plastic: plastic.snapshotWeights() };
    stable.dispose();
    plastic.dispose();
  }

  /** The stable model's weights as kept after the last update (undefined before the first). */
  get stableWeights(): readonly tf.Tensor[] | undefined {
    return this.kept?.stable;
  }

  /** The state's section (undefined before the first update); weights under `<folder>/stable` and `<folder>/plastic`. */
  async save(files: StateWriter, folder: string): Promise<Record<string, unknown> | undefined> {
    if (this.kept === undefined) return undefined;
    const stable: SavedWeights = await saveWeights(files, `${folder}/stable`, this.kept.stable);
    const plastic: SavedWeights = await saveWeights(files, `${folder}/plastic`, this.kept.plastic);
    return { steps: this.steps, stable, plastic };
  }

  /**
   * Restores what save() wrote (`section` undefined: a state saved before
   * any update). `model` is the working model resumed: the averages must fit
   * its architecture (carryOver), or the state is refused.
   */
  async load(files: StateReader, folder: string, section: unknown, model: ContinualModel): Promise<void> {
    this.dispose();
    if (section === undefined) return;
    const where = "data.algorithm.cls";
    const parsed = savedClsSchema.safeParse(section);
    if (!parsed.success) throw new StateError(`${files.location}/${MANIFEST_FILE}: ${where} is invalid: ${parsed.error.issues[0]?.message}`);
    const stable = await loadWeights(files, `${folder}/stable`, parsed.data.stable, `${where}.stable`);
    let plastic: tf.Tensor[] = [];
    try {
      plastic = await loadWeights(files, `${folder}/plastic`, parsed.data.plastic, `${where}.plastic`);
      const shapes = model.snapshotWeights();
      const current = shapes.map((t) => t.shape);
      tf.dispose(shapes);
      for (const [name, weights] of [["stable", stable], ["plastic", plastic]] as const) {
        const problem = carryOverProblem(weights.map((t) => t.shape), current);
        if (problem !== undefined) throw new StateError(`${files.location}: the ${name} model's weights do not fit the model: ${problem}`);
      }
    } catch (error) {
      tf.dispose([...stable, ...plastic]);
      throw error;
    }
    this.kept = { stable, plastic };
    this.steps = parsed.data.steps;
  }

  /** Frees everything held. */
  dispose(): void {
    this.end();
    this.disposeKept();
    this.steps = 0;
  }

  private disposeKept(): void {
    if (this.kept === undefined) return;
    tf.dispose([...this.kept.stable, ...this.kept.plastic]);
    this.kept = undefined;
  }

  private requireLive(): { stable: ContinualModel; plastic: ContinualModel } {
    if (this.live === undefined) throw new RangeError("ClsEmaModels: call begin() before training with the averaged models");
    return this.live;
  }
}
