/**
 * Learning-rate schedules with PyTorch's semantics, evaluated from a counter t
 * (epochs or steps since the phase began, starting at 0), so a schedule needs
 * no state of its own and resumes trivially.
 */
import * as z from "zod";
import { OptionsError } from "../errors.js";

const positiveInt = z.number().int().positive();

export const learningRateScheduleSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("constant") }),
  z.strictObject({ type: z.literal("step"), stepSize: positiveInt, gamma: z.number().positive().default(0.1) }),
  z.strictObject({ type: z.literal("multistep"), milestones: z.array(positiveInt).min(1), gamma: z.number().positive().default(0.1) }),
  z.strictObject({ type: z.literal("exponential"), gamma: z.number().positive() }),
  z.strictObject({ type: z.literal("cosine"), tMax: positiveInt, etaMin: z.number().min(0).default(0) }),
]);

export type LearningRateScheduleSpec = z.input<typeof learningRateScheduleSchema>;
/** A custom schedule: learning rate for counter t given the base rate. */
export type LearningRateFunction = (t: number, baseLearningRate: number) => number;
export type LearningRateSchedule = LearningRateScheduleSpec | LearningRateFunction;
/** Whether the schedule's counter advances per epoch or per optimizer step. */
export type ScheduleInterval = "epoch" | "step";

/** The learning rate at counter t. */
export function learningRateAt(schedule: LearningRateSchedule, baseLearningRate: number, t: number): number {
  if (typeof schedule === "function") {
    const value = schedule(t, baseLearningRate);
    if (!Number.isFinite(value) || value < 0) {
      throw new OptionsError(`the learning-rate schedule returned ${value} at t=${t}; it must be a finite number >= 0`);
    }
    return value;
  }
  const parsed = learningRateScheduleSchema.safeParse(schedule);
  if (!parsed.success) throw new OptionsError(`invalid learning-rate schedule ${JSON.stringify(schedule)}: ${z.prettifyError(parsed.error)}`);
  const spec = parsed.data;
  switch (spec.type) {
    case "constant":
      return baseLearningRate;
    case "step":
      return baseLearningRate * spec.gamma ** Math.floor(t / spec.stepSize);
    case "multistep":
      return baseLearningRate * spec.gamma ** spec.milestones.filter((m) => m <= t).length;
    case "exponential":
      return baseLearningRate * spec.gamma ** t;
    case "cosine": {
      // PyTorch's CosineAnnealingLR closed form; past tMax it keeps following the cosine.
      return spec.etaMin + ((baseLearningRate - spec.etaMin) * (1 + Math.cos((Math.PI * t) / spec.tMax))) / 2;
    }
  }
}
