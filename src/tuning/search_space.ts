/**
 * Search spaces for tuning: which updater options a search may change, and how values are drawn. JSON in the
 * config's `tuning` section, e.g.
 *
 *   "space": { "optimizer.learningRate": { "logUniform": [1e-3, 0.5] }, "optimizer.momentum": { "choice": [0, 0.9, 0.99] },
 *              "optimizer.name": "sgd", "memorySize": { "int": [100, 500] } }
 *
 * Keys name options of the config's `options` section: a top-level option ("memorySize", "alpha", ...) or a field of
 * the optimizer ("optimizer.learningRate", "optimizer.momentum", "optimizer.weightDecay", "optimizer.name", ...).
 * Values are a domain (choice, uniform, logUniform, int) or a constant set in every trial. Which keys an updater
 * accepts is checked against the config schema and the updater's own options schema (check_space.ts).
 * Pure data and arithmetic: no tfjs, no file system.
 */
import * as z from "zod";
import type { Random } from "../random.js";

/** A value a trial sets: numbers, option names ("sgd") and switches. */
export type ParamValue = number | string | boolean;
/** One trial's setting: option path -> value. */
export type Params = Record<string, ParamValue>;

export type Domain =
  | { kind: "choice"; values: ParamValue[] }
  /** Real numbers in [low, high], uniformly. */
  | { kind: "uniform"; low: number; high: number }
  /** Real numbers in [low, high] whose logarithm is uniform (learning rates, weight decay); 0 < low. */
  | { kind: "logUniform"; low: number; high: number }
  /** Integers in [low, high], both included, uniformly. */
  | { kind: "int"; low: number; high: number }
  | { kind: "constant"; value: ParamValue };

const scalar = z.union([z.number().finite(), z.string(), z.boolean()]);

function pair(value: unknown): [number, number] | string {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    return "expects [low, high], two finite numbers";
  }
  return [value[0] as number, value[1] as number];
}

/** Parses one entry of a space; the message of a bad one says what is expected. */
export function parseDomain(value: unknown): Domain | string {
  if (scalar.safeParse(value).success) return { kind: "constant", value: value as ParamValue };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return 'expected a constant (number, string, boolean) or one of { "choice": [...] }, { "uniform": [low, high] }, { "logUniform": [low, high] }, { "int": [low, high] }';
  }
  const keys = Object.keys(value);
  if (keys.length !== 1) return `expected exactly one of "choice", "uniform", "logUniform", "int"; got ${keys.length === 0 ? "an empty object" : keys.map((k) => `"${k}"`).join(", ")}`;
  const kind = keys[0]!;
  const body = (value as Record<string, unknown>)[kind];
  if (kind === "choice") {
    if (!Array.isArray(body) || body.length === 0) return '"choice" expects a non-empty list of values';
    if (!body.every((v) => scalar.safeParse(v).success)) return '"choice" values must be numbers, strings or booleans';
    const seen = new Set(body.map((v) => JSON.stringify(v)));
    if (seen.size !== body.length) return '"choice" lists a value twice';
    return { kind: "choice", values: body as ParamValue[] };
  }
  if (kind === "uniform" || kind === "logUniform" || kind === "int") {
    const bounds = pair(body);
    if (typeof bounds === "string") return `"${kind}" ${bounds}`;
    const [low, high] = bounds;
    if (kind === "int") {
      if (!Number.isInteger(low) || !Number.isInteger(high)) return `"int" bounds must be integers, got [${low}, ${high}]`;
      if (low > high) return `"int" needs low <= high, got [${low}, ${high}]`;
      return { kind, low, high };
    }
    if (!(low < high)) return `"${kind}" needs low < high, got [${low}, ${high}] (a single value is a constant)`;
    if (kind === "logUniform" && low <= 0) return `"logUniform" needs 0 < low, got [${low}, ${high}]`;
    return { kind, low, high };
  }
  return `unknown domain "${kind}"; expected "choice", "uniform", "logUniform" or "int"`;
}

/** Option paths a space may name: a config option, or `optimizer.<field>`. */
const KEY = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)?$/;

/** The JSON form of a space, checked entry by entry (every bad entry named). */
export const searchSpaceSchema = z.record(z.string(), z.unknown()).superRefine((space, ctx) => {
  for (const [key, value] of Object.entries(space)) {
    if (!KEY.test(key)) {
      ctx.addIssue({ code: "custom", path: [key], message: `"${key}" is not an option path: use an option name ("memorySize") or "optimizer.<field>" ("optimizer.learningRate")` });
      continue;
    }
    if (key.includes(".") && !key.startsWith("optimizer.")) {
      ctx.addIssue({ code: "custom", path: [key], message: `only the optimizer's fields can be named with a dot ("optimizer.learningRate"); "${key}" is not one` });
      continue;
    }
    const domain = parseDomain(value);
    if (typeof domain === "string") ctx.addIssue({ code: "custom", path: [key], message: domain });
  }
});

export type SearchSpaceInput = z.input<typeof searchSpaceSchema>;

/**
 * Renate's default spaces (renate/tuning/config_spaces.py), in our option names. Renate trains with SGD; its
 * learner space is "renate-sgd", and the DER and Super-ER spaces add their loss weights to it. "adam" is ours:
 * the learning rate of the Adam optimizer relearn's configs use by default.
 */
export const SEARCH_SPACE_PRESETS = {
  "renate-sgd": {
    "optimizer.name": "sgd",
    "optimizer.momentum": { choice: [0, 0.9, 0.99] },
    "optimizer.weightDecay": { logUniform: [1e-6, 1e-2] },
    "optimizer.learningRate": { logUniform: [1e-3, 0.5] },
  },
  "renate-der": {
    "optimizer.name": "sgd",
    "optimizer.momentum": { choice: [0, 0.9, 0.99] },
    "optimizer.weightDecay": { logUniform: [1e-6, 1e-2] },
    "optimizer.learningRate": { logUniform: [1e-3, 0.5] },
    alpha: { uniform: [0, 1] },
    beta: { uniform: [0, 1] },
  },
  "renate-super-er": {
    "optimizer.name": "sgd",
    "optimizer.momentum": { choice: [0, 0.9, 0.99] },
    "optimizer.weightDecay": { logUniform: [1e-6, 1e-2] },
    "optimizer.learningRate": { logUniform: [1e-3, 0.5] },
    derAlpha: { uniform: [0, 1] },
    derBeta: { uniform: [0, 1] },
    spShrinkFactor: { choice: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] },
    spSigma: { choice: [0, 1e-5, 1e-4, 1e-3, 1e-2] },
    clsAlpha: { choice: Array.from({ length: 21 }, (_, i) => Math.round(i * 5) / 100) },
    clsStableModelUpdateProbability: { uniform: [0.01, 0.49] },
    clsPlasticModelUpdateProbability: { uniform: [0.5, 1] },
  },
  adam: {
    "optimizer.name": "adam",
    "optimizer.learningRate": { logUniform: [1e-4, 1e-2] },
  },
} as const satisfies Record<string, SearchSpaceInput>;

export type SearchSpacePreset = keyof typeof SEARCH_SPACE_PRESETS;
export const SEARCH_SPACE_PRESET_NAMES = Object.keys(SEARCH_SPACE_PRESETS) as SearchSpacePreset[];

/** A parsed space: entries in the order given (grid order, CSV column order). */
export type SearchSpace = ReadonlyArray<readonly [string, Domain]>;

/** Parses a space already checked by searchSpaceSchema (or a preset). */
export function toSearchSpace(input: Readonly<Record<string, unknown>>): SearchSpace {
  return Object.entries(input).map(([key, value]) => {
    const domain = parseDomain(value);
    if (typeof domain === "string") throw new RangeError(`search space entry "${key}": ${domain}`);
    return [key, domain] as const;
  });
}

/** Keys the search varies (constants excluded). */
export function variedKeys(space: SearchSpace): string[] {
  return space.filter(([, d]) => d.kind !== "constant").map(([key]) => key);
}

/** One value of `domain` drawn with `random`. */
export function sampleDomain(domain: Domain, random: Random): ParamValue {
  switch (domain.kind) {
    case "constant":
      return domain.value;
    case "choice":
      return domain.values[random.int(0, domain.values.length - 1)]!;
    case "int":
      return random.int(domain.low, domain.high);
    // Clamped: rounding (exp of a log, low + width * u) can land an ulp outside the bounds, and a bound like
    // momentum <= 1 is then refused by the updater's schema in the middle of a search.
    case "uniform":
      return clamp(domain.low + (domain.high - domain.low) * random.float(), domain);
    case "logUniform":
      return clamp(Math.exp(Math.log(domain.low) + (Math.log(domain.high) - Math.log(domain.low)) * random.float()), domain);
  }
}

function clamp(value: number, domain: { low: number; high: number }): number {
  return Math.min(domain.high, Math.max(domain.low, value));
}

/** A setting of every key of `space`, drawn in the space's order. */
export function sampleSpace(space: SearchSpace, random: Random): Params {
  const params: Params = {};
  for (const [key, domain] of space) params[key] = sampleDomain(domain, random);
  return params;
}

/**
 * The grid values of one domain: every choice; every integer of an int range, or `points` of them spread evenly
 * when there are more; `points` evenly spaced reals (uniform) or evenly spaced logarithms (logUniform), both ends
 * included.
 */
export function gridValues(domain: Domain, points: number): ParamValue[] {
  if (!Number.isInteger(points) || points < 1) throw new RangeError(`grid points must be an integer >= 1, got ${points}`);
  switch (domain.kind) {
    case "constant":
      return [domain.value];
    case "choice":
      return [...domain.values];
    case "int": {
      const count = domain.high - domain.low + 1;
      if (count <= points) return Array.from({ length: count }, (_, i) => domain.low + i);
      if (points === 1) return [Math.round((domain.low + domain.high) / 2)];
      return [...new Set(Array.from({ length: points }, (_, i) => Math.round(domain.low + ((domain.high - domain.low) * i) / (points - 1))))];
    }
    case "uniform":
    case "logUniform": {
      if (points === 1) return [domain.kind === "uniform" ? (domain.low + domain.high) / 2 : Math.sqrt(domain.low * domain.high)];
      const [a, b] = domain.kind === "uniform" ? [domain.low, domain.high] : [Math.log(domain.low), Math.log(domain.high)];
      return Array.from({ length: points }, (_, i) => {
        if (i === points - 1) return domain.high; // exact end, no rounding drift
        const t = a + ((b - a) * i) / (points - 1);
        return i === 0 ? domain.low : clamp(domain.kind === "uniform" ? t : Math.exp(t), domain);
      });
    }
  }
}

/** True when `value` is a value `domain` can give. */
export function inDomain(domain: Domain, value: ParamValue): boolean {
  switch (domain.kind) {
    case "constant":
      return value === domain.value;
    case "choice":
      return domain.values.some((v) => v === value);
    case "int":
      return typeof value === "number" && Number.isInteger(value) && value >= domain.low && value <= domain.high;
    case "uniform":
    case "logUniform":
      return typeof value === "number" && value >= domain.low && value <= domain.high;
  }
}

/**
 * The config options with `params` applied: "optimizer.<field>" sets a field of the optimizer spec (a new name
 * starts from the given fields and drops those the other optimizer lacks only when the schema says so: check_space.ts
 * validates the result), any other key sets that option.
 */
export function applyParams(options: Readonly<Record<string, unknown>>, params: Params): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options };
  const optimizerFields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (key.startsWith("optimizer.")) optimizerFields[key.slice("optimizer.".length)] = value;
    else out[key] = value;
  }
  if (Object.keys(optimizerFields).length > 0) {
    const base = (options["optimizer"] ?? {}) as Record<string, unknown>;
    // Switching optimizer (adam -> sgd) keeps only the learning rate: adam's betas mean nothing to SGD.
    const switched = optimizerFields["name"] !== undefined && optimizerFields["name"] !== base["name"];
    const kept = switched ? (base["learningRate"] === undefined ? {} : { learningRate: base["learningRate"] }) : base;
    out["optimizer"] = { ...kept, ...optimizerFields };
  }
  return out;
}

/** How a value appears in tables and CSV files: numbers in full precision, strings and booleans as written. */
export function formatParam(value: ParamValue): string {
  return String(value);
}

/** A table cell back to the value of `domain` it stands for (undefined when none does). */
export function parseParam(domain: Domain, cell: string): ParamValue | undefined {
  const candidates = domain.kind === "choice" ? domain.values : domain.kind === "constant" ? [domain.value] : undefined;
  if (candidates !== undefined) return candidates.find((v) => formatParam(v) === cell);
  if (cell.trim() === "") return undefined;
  const value = Number(cell);
  return Number.isFinite(value) && inDomain(domain, value) ? value : undefined;
}
