/**
 * The `--model` flag of `init` and `benchmark`: a short spec for the common
 * models, or a JSON ModelSpec file for anything else. One parser, so the two
 * commands accept the same values.
 *
 * - `mlp` or `mlp:64,64`: an MLP with these hidden widths (none: a linear model);
 * - `cnn` or `cnn:32,64`: a CNN with one 3x3 conv block (2x2 max-pool after it) per
 *   filter count (default 32,64) and one dense layer of 128 before the head;
 *   the input shape must be [height, width, channels];
 * - a path to a JSON ModelSpec file (its input shape and classes are used as written).
 *
 * `--initializer` sets the spec's weight initialisation (initializers.ts) on
 * any of them, a file's own `initializer` included.
 */
import { readFile } from "node:fs/promises";
import { OptionsError } from "../errors.js";
import { INITIALIZERS } from "../model/initializers.js";
import { parseModelSpec, type ModelSpec } from "../model/spec.js";

/** Help text of `--initializer`. */
export const INITIALIZER_FLAG_HELP =
  `weight initialisation: ${INITIALIZERS.join(", ")} (default glorot-normal, tfjs's; pytorch = PyTorch's default, to reproduce Renate's numbers)`;

/** Help text of `--model`. */
export const MODEL_FLAG_HELP =
  'model: "mlp:<hidden widths>" (e.g. mlp:64,64; "mlp" alone is linear), "cnn" or "cnn:<filters per 3x3 conv block>" ' +
  "(default 32,64; needs a height,width,channels input shape), or a JSON ModelSpec file";

const DEFAULT_CNN_FILTERS = [32, 64];
const CNN_DENSE = [128];

function widths(text: string | undefined, flag: string, value: string): number[] {
  if (text === undefined || text === "") return [];
  return text.split(",").map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n <= 0) throw new OptionsError(`${flag} ${value}: "${part}" is not a positive integer`);
    return n;
  });
}

/**
 * The ModelSpec `value` stands for, for samples of `inputShape` and `classes` classes. Throws
 * OptionsError naming `flag` for a bad short spec; a JSON file is validated by parseModelSpec.
 */
export async function resolveModelFlag(
  value: string,
  shape: { inputShape: readonly number[]; classes: number },
  flag = "--model",
  initializer?: string,
): Promise<ModelSpec> {
  const spec = await modelFlagSpec(value, shape, flag);
  if (initializer === undefined) return spec;
  if (!(INITIALIZERS as readonly string[]).includes(initializer)) {
    throw new OptionsError(`--initializer ${initializer}: must be one of ${INITIALIZERS.join(", ")}`);
  }
  return parseModelSpec({ ...spec, initializer });
}

async function modelFlagSpec(value: string, shape: { inputShape: readonly number[]; classes: number }, flag: string): Promise<ModelSpec> {
  const short = /^(mlp|cnn)(?::(.*))?$/.exec(value.trim());
  if (short === null) {
    let text: string;
    try {
      text = await readFile(value, "utf8");
    } catch (error) {
      throw new OptionsError(`${flag} ${value}: not mlp[:widths], cnn[:filters] or a readable JSON ModelSpec file (${(error as Error).message})`);
    }
    return parseModelSpec(text);
  }
  const [, type, list] = short;
  if (type === "mlp") return parseModelSpec({ type: "mlp", inputShape: [...shape.inputShape], hidden: widths(list, flag, value), classes: shape.classes });
  if (shape.inputShape.length !== 3) {
    throw new OptionsError(`${flag} ${value}: a cnn needs a [height, width, channels] input shape (e.g. --input-shape 28,28,1), got [${shape.inputShape.join(",")}]`);
  }
  const filters = list === undefined ? DEFAULT_CNN_FILTERS : widths(list, flag, value);
  return parseModelSpec({
    type: "cnn",
    inputShape: [...shape.inputShape],
    conv: filters.map((count) => ({ filters: count, kernelSize: 3, pool: true })),
    dense: CNN_DENSE,
    classes: shape.classes,
  });
}
