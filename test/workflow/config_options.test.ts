// Every option an updater takes is settable in a config file, with the same meaning: the config's options schema is a
// hand-written list (it keeps functions out and gives editors a JSON Schema), and it had fallen behind the updaters
// (tester H, H4: lossNormalization and CLS-ER's averaging options were refused in a config). This checks the whole
// class: each registered updater's schema, key by key, against the config's.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as z from "zod";
import { createUpdater, UPDATER_NAMES, updaterEntry } from "../../src/updaters/registry.js";
import { configJsonSchema, configUpdaterOptionsSchema, OPTIONS_NOT_IN_CONFIG, parseConfig } from "../../src/workflow/config.js";

const configKeys = new Set(Object.keys(configUpdaterOptionsSchema.shape));

test("every JSON option of every updater is a config option (runtime-only options, listed with their reason, aside)", () => {
  const missing: string[] = [];
  for (const name of UPDATER_NAMES) {
    for (const key of Object.keys(updaterEntry(name).optionsSchema.shape)) {
      if (!(key in OPTIONS_NOT_IN_CONFIG) && !configKeys.has(key)) missing.push(`${name}.${key}`);
    }
  }
  assert.deepEqual(missing, []);
  // And the config has no option that no updater takes (a typo there would pass the config, then fail the update).
  const taken = new Set(UPDATER_NAMES.flatMap((name) => Object.keys(updaterEntry(name).optionsSchema.shape)));
  assert.deepEqual([...configKeys].filter((key) => !taken.has(key)), []);
});

test("the config accepts each updater's default for each of its options, and the JSON Schema for editors lists them", () => {
  const properties = (configJsonSchema() as { properties: { options: { properties: Record<string, unknown> } } }).properties.options.properties;
  for (const name of UPDATER_NAMES) {
    const shape = updaterEntry(name).optionsSchema.shape as Record<string, z.ZodType>;
    for (const [key, field] of Object.entries(shape)) {
      if (key in OPTIONS_NOT_IN_CONFIG) continue;
      const fallback = field.safeParse(undefined);
      if (fallback.success && fallback.data !== undefined && typeof fallback.data !== "function") {
        const parsed = configUpdaterOptionsSchema.shape[key as keyof typeof configUpdaterOptionsSchema.shape].safeParse(fallback.data);
        assert.ok(parsed.success, `${name}.${key}: the config refuses the updater's default ${JSON.stringify(fallback.data)}`);
      }
      assert.ok(key in properties, `${name}.${key} is not in the config's JSON Schema`);
    }
  }
});

test("a config with the options of tester H's H4 parses (lossNormalization, CLS-ER's averages, predictWith, newDataLoss)", () => {
  const model = { type: "mlp", inputShape: [4], hidden: [8], classes: 3 };
  const er = parseConfig({ model, updater: "er", options: { memorySize: 20, lossNormalization: "renate" } });
  assert.equal(er.options.lossNormalization, "renate");
  const cls = parseConfig({
    model,
    updater: "cls-er",
    options: {
      memorySize: 20, predictWith: "working", newDataLoss: "asymmetric", stableModelUpdateWeight: 0.99, plasticModelUpdateWeight: 0.9,
      stableModelUpdateProbability: 0.5, plasticModelUpdateProbability: 0.8,
    },
  });
  assert.equal(cls.options.predictWith, "working");
  assert.throws(() => parseConfig({ model, updater: "cls-er", options: { memorySize: 20, predictWith: "best" } }), /predictWith/);
});

test("an option of the other loss-normalisation family is refused with the one this updater takes (tester H, H2)", () => {
  const model = { type: "mlp" as const, inputShape: [4], hidden: [8], classes: 3 };
  for (const name of ["cls-er", "cls-er-ace", "pod-er", "super-er"]) {
    assert.throws(
      () => createUpdater(name, { model, memorySize: 20, layers: ["dense_0_relu"], podLayers: ["dense_0_relu"], lossNormalization: "renate" } as never),
      (error: Error) => /Unrecognized key.*"lossNormalization"/.test(error.message) && /take the boolean normalizeLoss instead/.test(error.message),
      name,
    );
  }
  for (const name of ["er", "offline-er", "der++", "er-ace"]) {
    assert.throws(() => createUpdater(name, { model, memorySize: 20, normalizeLoss: false } as never), /take lossNormalization \("paper" or "renate"\) instead/, name);
  }
});
