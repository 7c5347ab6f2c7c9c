// --updater-options merged with the options other flags set: per updater, option by option; a variant starts from
// its base's merged options and overrides only what it names; memorySize and names outside --updaters are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeUpdaterOptions } from "../../src/cli/updater_options_flag.js";

test("mergeUpdaterOptions: given over flags; a variant inherits its base's flags and entry and overrides what it names", () => {
  const flags = { "pod-er": { layers: ["dense_0_relu"], distillationType: "pixel" } };
  const merged = mergeUpdaterOptions(["pod-er", "pod-er@a", "er", "er@b"], flags, {
    "pod-er": { alpha: 2, beta: 0 },
    "pod-er@a": { alpha: 0.5 },
    er: { memoryBatchSize: 8 },
    "er@b": { optimizer: { name: "sgd", learningRate: 0.1 } },
  });
  assert.deepEqual(merged["pod-er"], { layers: ["dense_0_relu"], distillationType: "pixel", alpha: 2, beta: 0 });
  assert.deepEqual(merged["pod-er@a"], { layers: ["dense_0_relu"], distillationType: "pixel", alpha: 0.5, beta: 0 });
  assert.deepEqual(merged["er@b"], { memoryBatchSize: 8, optimizer: { name: "sgd", learningRate: 0.1 } });
  // Without a base entry or flags, a variant is its own options.
  assert.deepEqual(mergeUpdaterOptions(["gdumb@c"], {}, { "gdumb@c": { seed: 3 } })["gdumb@c"], { seed: 3 });
});

test("mergeUpdaterOptions refuses memorySize (the --memory-sizes axis names rows) and names outside --updaters", () => {
  assert.throws(() => mergeUpdaterOptions(["er"], {}, { er: { memorySize: 100 } }), /"er" sets memorySize, which --memory-sizes sets/);
  assert.throws(() => mergeUpdaterOptions(["er@a"], {}, { "er@a": { memorySize: 100 } }), /"er@a" sets memorySize/);
  assert.throws(() => mergeUpdaterOptions(["er"], {}, { der: { alpha: 1 } }), /--updater-options names "der", which is not in --updaters \(er\)/);
});
