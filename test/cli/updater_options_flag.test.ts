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
  assert.deepEqual(mergeUpdaterOptions(["gdumb@c"], {}, { "gdumb@c": { maxEpochs: 3 } })["gdumb@c"], { maxEpochs: 3 });
});

test("mergeUpdaterOptions refuses memorySize (the --memory-sizes axis names rows) and names outside --updaters", () => {
  assert.throws(() => mergeUpdaterOptions(["er"], {}, { er: { memorySize: 100 } }), /"er" sets memorySize, which --memory-sizes sets/);
  assert.throws(() => mergeUpdaterOptions(["er@a"], {}, { "er@a": { memorySize: 100 } }), /"er@a" sets memorySize/);
  // Every option the grid sets per cell, or a benchmark does not take (tester H, H14: a seed ran under another seed's name).
  assert.throws(() => mergeUpdaterOptions(["er"], {}, { er: { seed: 5 } }), /"er" sets seed, which --seeds sets \(each seed its own run, named by it\)/);
  for (const option of ["inputStateFolder", "outputStateFolder", "overwriteOutputState"]) {
    assert.throws(() => mergeUpdaterOptions(["fine-tuning"], {}, { "fine-tuning": { [option]: "/tmp/x" } }), new RegExp(`sets ${option}, which a benchmark does not take: each run starts from a fresh model and keeps no state`));
  }
  assert.throws(() => mergeUpdaterOptions(["er"], {}, { der: { alpha: 1 } }), /--updater-options names "der", which is not in --updaters \(er\)/);
});
