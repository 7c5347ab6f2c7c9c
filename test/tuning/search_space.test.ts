import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseConfig, type RelearnConfigInput } from "../../src/workflow/config.js";
import { resolveSpace } from "../../src/tuning/check_space.js";
import { applyParams, gridValues, inDomain, parseDomain, parseParam, formatParam, sampleSpace, SEARCH_SPACE_PRESETS, toSearchSpace, type Domain } from "../../src/tuning/search_space.js";
import { tuningSettingsSchema } from "../../src/tuning/settings.js";
import { Random } from "../../src/random.js";
import { OptionsError } from "../../src/errors.js";

const model = { type: "mlp" as const, inputShape: [8], hidden: [16], classes: 6 };
const config = (updater: string, tuning: unknown, options: Record<string, unknown> = {}): RelearnConfigInput =>
  ({ model, updater, options: { memorySize: 40, maxEpochs: 1, optimizer: { name: "sgd", learningRate: 0.01 }, ...options }, tuning }) as RelearnConfigInput;

function rejects(updater: string, tuning: unknown, message: RegExp, options?: Record<string, unknown>): void {
  assert.throws(() => {
    const c = parseConfig(config(updater, tuning, options));
    resolveSpace(c, c.tuning!);
  }, (e: Error) => e instanceof OptionsError && message.test(e.message), `expected ${message}`);
}

test("bad domains are refused by the config schema, each with what it expects", () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ logUniform: [0, 1] }, /"logUniform" needs 0 < low, got \[0, 1\]/],
    [{ uniform: [1, 1] }, /"uniform" needs low < high, got \[1, 1\] \(a single value is a constant\)/],
    [{ uniform: [1] }, /"uniform" expects \[low, high\], two finite numbers/],
    [{ choice: [] }, /"choice" expects a non-empty list of values/],
    [{ choice: [1, 1] }, /"choice" lists a value twice/],
    [{ int: [1.5, 3] }, /"int" bounds must be integers/],
    [{ int: [4, 3] }, /"int" needs low <= high/],
    [{ normal: [0, 1] }, /unknown domain "normal"/],
    [{ uniform: [0, 1], int: [0, 1] }, /exactly one of/],
    [[1, 2], /expected a constant .* or one of/],
  ];
  for (const [domain, message] of cases) {
    assert.throws(() => parseConfig(config("rd", { space: { alpha: domain } })), (e: Error) => e instanceof OptionsError && /tuning\.space\.alpha/.test(e.message) && message.test(e.message), String(message));
  }
  assert.throws(() => parseConfig(config("rd", { space: { "model.hidden": { int: [1, 2] } } })), /only the optimizer's fields can be named with a dot/);
  assert.throws(() => parseConfig(config("rd", { scheduler: "bayes" })), OptionsError);
  assert.throws(() => parseConfig(config("rd", { preset: "renate-xyz" })), OptionsError);
  assert.throws(() => parseConfig(config("rd", { asha: { reductionFactor: 1 } })), OptionsError);
});

test("a space may name only options the updater takes, with values it accepts", () => {
  rejects("rd", { space: { learningRate: { logUniform: [1e-3, 1] } } }, /tuning\.space\.learningRate: "learningRate" is not an updater option a config can set; updater "rd" takes: memorySize/);
  // A typo lists the options of the config's updater only: not der++'s alpha, which rd would refuse (tester F-S).
  rejects("rd", { space: { alhpa: { uniform: [0, 1] } } }, /updater "rd" takes: (?![\s\S]*\balpha\b)[\s\S]*consolidationEpochs/);
  rejects("fine-tuning", { space: { alpha: { uniform: [0, 1] } } }, /updater "fine-tuning" takes no alpha \(tuning\.space\.alpha\): an option of der\+\+/);
  // A memory-free updater ignores memorySize (its registry entry drops it): tuning it would search nothing (tester H, H7).
  for (const name of ["lwf", "ewc", "fine-tuning"]) {
    rejects(name, { space: { memorySize: { int: [10, 50] } } }, new RegExp(`updater "${name}" takes no memorySize \\(tuning\\.space\\.memorySize\\): an option of rd, rd-budget, er`));
  }
  rejects("rd", { space: { "optimizer.momentum": { uniform: [0, 1.5] } } }, /tuning\.space\.optimizer\.momentum = 1\.5/);
  rejects("rd", { space: { "optimizer.momentum": { choice: [0, 0.9] } } }, /tuning\.space\.optimizer\.momentum = 0[\s\S]*updater "rd"/, { optimizer: { name: "adam", learningRate: 1e-3 } });
  rejects("rd", { space: { optimizer: "sgd" } }, /name one of its fields instead/);
  rejects("rd", { scheduler: "asha", space: { maxEpochs: { int: [1, 3] } } }, /ASHA sets the epochs of each trial itself/);
  rejects("rd", { space: { memorySize: { int: [0, 10] } } }, /tuning\.space\.memorySize = 0/);
  // Accepted: Renate's presets for the updaters they were made for, and a space switching adam -> sgd.
  for (const [updater, preset] of [["rd", "renate-sgd"], ["der++", "renate-der"], ["er", "renate-sgd"], ["rd", "adam"]] as const) {
    const c = parseConfig(config(updater, { preset }));
    assert.equal(resolveSpace(c, c.tuning!).space.length, Object.keys(SEARCH_SPACE_PRESETS[preset]).length);
  }
  const adam = parseConfig(config("rd", { preset: "renate-sgd" }, { optimizer: { name: "adam", learningRate: 1e-3, beta1: 0.8 } }));
  resolveSpace(adam, adam.tuning!);
});

test("without a preset or space, the default follows the optimizer; space entries win over the preset's", () => {
  const sgd = parseConfig(config("rd", {}));
  assert.match(resolveSpace(sgd, sgd.tuning!).source, /preset "renate-sgd" \(the default/);
  const adam = parseConfig(config("rd", {}, { optimizer: { name: "adam", learningRate: 1e-3 } }));
  assert.match(resolveSpace(adam, adam.tuning!).source, /preset "adam"/);
  const merged = parseConfig(config("rd", { preset: "renate-sgd", space: { "optimizer.momentum": 0.9 } }));
  const { space } = resolveSpace(merged, merged.tuning!);
  assert.deepEqual(space.find(([k]) => k === "optimizer.momentum")![1], { kind: "constant", value: 0.9 });
  assert.deepEqual(tuningSettingsSchema.parse({}).asha, { reductionFactor: 3, minEpochs: 1 });
});

test("applyParams: optimizer fields into the optimizer, a switch of optimizer keeps only the learning rate", () => {
  const options = { memorySize: 10, optimizer: { name: "adam", learningRate: 1e-3, beta1: 0.8 } };
  assert.deepEqual(applyParams(options, { "optimizer.learningRate": 0.1, memorySize: 20 }), { memorySize: 20, optimizer: { name: "adam", learningRate: 0.1, beta1: 0.8 } });
  assert.deepEqual(applyParams(options, { "optimizer.name": "sgd", "optimizer.momentum": 0.9 }), { memorySize: 10, optimizer: { learningRate: 1e-3, name: "sgd", momentum: 0.9 } });
  assert.deepEqual(options.optimizer.beta1, 0.8, "the input is not changed");
});

const domainArb: fc.Arbitrary<Domain> = fc.oneof(
  fc.tuple(fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: 1e-3, max: 100, noNaN: true })).map(([low, width]) => ({ kind: "uniform", low, high: low + width }) as Domain),
  fc.tuple(fc.double({ min: 1e-8, max: 10, noNaN: true }), fc.double({ min: 1.001, max: 1e6, noNaN: true })).map(([low, ratio]) => ({ kind: "logUniform", low, high: low * ratio }) as Domain),
  fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 100 })).map(([low, width]) => ({ kind: "int", low, high: low + width }) as Domain),
  fc.uniqueArray(fc.oneof(fc.integer(), fc.constantFrom("a", "b", "sgd"), fc.boolean()), { minLength: 1, maxLength: 6 }).map((values) => ({ kind: "choice", values }) as Domain),
);

test("property: draws and grid values lie in their domain, grids include both ends, and cells read back", () => {
  fc.assert(
    fc.property(domainArb, fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 2, max: 7 }), (domain, seed, points) => {
      const random = Random.fromSeed(seed);
      for (let i = 0; i < 20; i++) {
        const value = sampleSpace([["k", domain]], random)["k"]!;
        assert.ok(inDomain(domain, value), `${value} in ${JSON.stringify(domain)}`);
        assert.equal(parseParam(domain, formatParam(value)), value, "the table's cell reads back to the value");
      }
      const grid = gridValues(domain, points);
      for (const value of grid) assert.ok(inDomain(domain, value));
      if (domain.kind !== "choice" && domain.kind !== "constant") {
        assert.equal(grid[0], domain.low);
        assert.equal(grid.at(-1), domain.high);
      }
    }),
    { numRuns: 200 },
  );
  assert.equal(typeof parseDomain({ logUniform: [-1, 1] }), "string");
  // The ends of the unit interval: exp(log(1e-8)) alone would give 9.999999999999982e-9, below the bound.
  for (const u of [0, 1e-300, 1 - 2 ** -53]) {
    const fixed = { float: () => u, int: (a: number) => a } as unknown as Random;
    for (const domain of [{ kind: "logUniform", low: 1e-8, high: 1e-7 }, { kind: "uniform", low: -0.1, high: 0.3 }] as Domain[]) {
      assert.ok(inDomain(domain, sampleSpace([["k", domain]], fixed)["k"]!), `u = ${u} in ${JSON.stringify(domain)}`);
    }
  }
  assert.deepEqual(toSearchSpace({ a: 1 }), [["a", { kind: "constant", value: 1 }]]);
});

test("an entry the updater does not take is named with where it comes from, never blamed on another entry (tester F-S)", () => {
  // renate-der's alpha and beta are DER++ options: rd takes neither. The message names both and the preset, not "optimizer.name".
  rejects("rd", { preset: "renate-der" }, /^updater "rd" takes no alpha \(preset "renate-der" entry "alpha"\), beta \(preset "renate-der" entry "beta"\): options of der\+\+/);
  // The README's sample (renate-sgd plus alpha in the space) on an rd config: the space's own entry is named.
  rejects("rd", { preset: "renate-sgd", space: { alpha: { uniform: [0, 1] }, memorySize: { int: [20, 40] } } }, /^updater "rd" takes no alpha \(tuning\.space\.alpha\)/);
  const c = parseConfig(config("rd", { preset: "renate-der", space: { alpha: 0.5 } }));
  assert.throws(() => resolveSpace(c, c.tuning!), (e: Error) => /alpha \(tuning\.space\.alpha\), beta \(preset "renate-der" entry "beta"\)/.test(e.message));
});

test("a real-valued domain on a whole-number option is refused up front, naming the entry and the int domain to use (tester F-A)", () => {
  // Bounds and midpoint (8, 64, 36) are whole numbers: only a draw shows the problem, which used to be trial 0's.
  rejects("rd", { space: { batchSize: { uniform: [8, 64] } } }, /^tuning\.space\.batchSize: \{"uniform": \[8, 64\]\} draws real numbers \(e\.g\. [\d.]+\), but "batchSize" takes whole numbers: use \{"int": \[8, 64\]\}/);
  rejects("rd", { space: { memorySize: { logUniform: [10, 40] } } }, /^tuning\.space\.memorySize: .*use \{"int": \[10, 40\]\}/);
  // Real-valued options keep their real domains.
  const ok = parseConfig(config("der++", { space: { alpha: { uniform: [0, 1] }, "optimizer.learningRate": { logUniform: [1e-3, 0.1] } } }));
  assert.equal(resolveSpace(ok, ok.tuning!).space.length, 2);
});

test("memorySize in the space: fine for a first update, refused up front for a resumed state, naming the entry", () => {
  const c = parseConfig(config("der++", { space: { memorySize: { int: [50, 300] }, "optimizer.learningRate": { logUniform: [1e-3, 0.1] } } }));
  assert.equal(resolveSpace(c, c.tuning!).space.length, 2);
  assert.throws(
    () => resolveSpace(c, c.tuning!, { resumed: true }),
    (e: Error) =>
      e instanceof OptionsError &&
      /^tuning\.space\.memorySize: a resumed state's memory keeps the size it was built with, so "memorySize" can be tuned only on a first update \(no --input-state\); remove it from the space/.test(e.message),
  );
  const lr = parseConfig(config("der++", { space: { "optimizer.learningRate": { logUniform: [1e-3, 0.1] } } }));
  assert.equal(resolveSpace(lr, lr.tuning!, { resumed: true }).space.length, 1);
});
