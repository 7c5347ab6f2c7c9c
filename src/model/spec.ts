/**
 * ModelSpec: a model described as plain JSON (for the CLI, state folders and
 * config files), validated by one zod schema. `buildModel` in
 * continual_model.ts turns a spec into layers.
 *
 * Layer order, fixed because parameter counts and saved files depend on it:
 * - mlp: [flatten if inputShape has several dims] then per hidden width:
 *   dense -> batchNorm? -> activation -> dropout?; then the head(s).
 * - cnn: per conv block: conv2d ("same" padding) -> batchNorm? -> activation
 *   -> 2x2 max-pool ("valid", stride 2)?; flatten; then per dense width:
 *   dense -> batchNorm? -> activation -> dropout?; then the head(s).
 */
import * as z from "zod";
import { OptionsError } from "../errors.js";
import { INITIALIZERS } from "./initializers.js";

const positiveInt = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`).positive(`${what} must be > 0`);

/** Activations applied after every hidden layer (tfjs-layers names). */
export const ACTIVATIONS = ["relu", "tanh", "sigmoid", "gelu"] as const;
/** One of ACTIVATIONS. */
export type Activation = (typeof ACTIVATIONS)[number];

const common = {
  classes: positiveInt("classes"),
  activation: z.enum(ACTIVATIONS).optional(),
  dropout: z
    .number({ error: "dropout must be a number" })
    .min(0, "dropout must be in [0, 1)")
    .lt(1, "dropout must be in [0, 1)")
    .optional(),
  batchNorm: z.boolean().optional(),
  multiHead: z.boolean().optional(),
  /** Weight initialisation of every dense and conv layer (initializers.ts); default "glorot-normal" (tfjs-layers'). */
  initializer: z.enum(INITIALIZERS, { error: `initializer must be one of ${INITIALIZERS.map((i) => `"${i}"`).join(", ")}` }).optional(),
};

/** Schema of `{ type: "mlp", ... }`. */
export const mlpSpecSchema = z.strictObject({
  type: z.literal("mlp"),
  inputShape: z.array(positiveInt("inputShape entries")).min(1, "inputShape must have at least one dimension"),
  hidden: z.array(positiveInt("hidden widths")),
  ...common,
});

/** Schema of one conv block of a cnn: conv2d -> batchNorm? -> activation -> pool?. */
export const convBlockSchema = z.strictObject({
  filters: positiveInt("filters"),
  kernelSize: positiveInt("kernelSize"),
  stride: positiveInt("stride").optional(),
  pool: z.boolean().optional(),
});

/** Schema of `{ type: "cnn", ... }`. */
export const cnnSpecSchema = z.strictObject({
  type: z.literal("cnn"),
  inputShape: z.tuple([positiveInt("height"), positiveInt("width"), positiveInt("channels")], {
    error: "inputShape must be [height, width, channels]",
  }),
  conv: z.array(convBlockSchema).min(1, "a cnn needs at least one conv block"),
  dense: z.array(positiveInt("dense widths")),
  ...common,
});

/** The JSON schema of every ModelSpec, discriminated on `type`. */
export const modelSpecSchema = z.discriminatedUnion("type", [mlpSpecSchema, cnnSpecSchema], {
  error: (issue) =>
    issue.code === "invalid_union" ? 'type must be "mlp" or "cnn"' : undefined,
});

/** A validated multi-layer perceptron spec. */
export type MlpSpec = z.infer<typeof mlpSpecSchema>;
/** A validated convolutional network spec. */
export type CnnSpec = z.infer<typeof cnnSpecSchema>;
/** One conv block of a CnnSpec. */
export type ConvBlock = z.infer<typeof convBlockSchema>;
/** Any validated model spec, discriminated on `type`. */
export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** Options of `mlp()`: an MlpSpec without its `type`. */
export type MlpOptions = Omit<z.input<typeof mlpSpecSchema>, "type">;
/** Options of `cnn()`: a CnnSpec without its `type`. */
export type CnnOptions = Omit<z.input<typeof cnnSpecSchema>, "type">;

/**
 * Validates a ModelSpec given as an object or as JSON text. Throws
 * OptionsError listing every problem as `path: message`.
 */
export function parseModelSpec(json: unknown): ModelSpec {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new OptionsError(`model spec is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  const result = modelSpecSchema.safeParse(value);
  if (!result.success) throw new OptionsError(`invalid model spec:\n${formatIssues(result.error.issues, value)}`);
  return result.data;
}

/** A validated multi-layer perceptron spec. Throws OptionsError. */
export function mlp(options: MlpOptions): MlpSpec {
  return parseModelSpec({ ...options, type: "mlp" }) as MlpSpec;
}

/** A validated convolutional network spec. Throws OptionsError. */
export function cnn(options: CnnOptions): CnnSpec {
  return parseModelSpec({ ...options, type: "cnn" }) as CnnSpec;
}

/**
 * One line per issue, with the offending value when there is one:
 * `  - hidden[1]: hidden widths must be > 0 (got -3)`.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input?: unknown): string {
  return issues
    .map((issue) => {
      const path = issue.path.reduce<string>(
        (text, key) => (typeof key === "number" ? `${text}[${key}]` : text === "" ? String(key) : `${text}.${String(key)}`),
        "",
      );
      const value = issue.path.length === 0 ? undefined : valueAt(input, issue.path);
      const got = value === undefined || issue.code === "invalid_type" ? "" : ` (got ${shortJson(value)})`;
      return `  - ${path === "" ? "(spec)" : path}: ${issue.message}${got}`;
    })
    .join("\n");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}
