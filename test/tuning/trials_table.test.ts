import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTrialsCsv, parseTrialsCsv, previousBest, trialRows } from "../../src/tuning/trials_table.js";
import { toSearchSpace } from "../../src/tuning/search_space.js";
import type { TrialOutcome } from "../../src/tuning/trial.js";
import { DataError } from "../../src/errors.js";

const outcome = (trialId: number, value: number | null, params: TrialOutcome["params"], extra: Partial<TrialOutcome> = {}): TrialOutcome => ({
  trialId, rung: 0, params, epochs: 2, metric: "val_accuracy", value, status: value === null ? "failed" : "ok", seconds: 1.23456, outputState: "/x", ...extra,
});

test("the trials table round-trips (quotes, commas and newlines in errors; blocks of different spaces share one header)", () => {
  const a = [outcome(0, 0.5, { "optimizer.learningRate": 0.01, "optimizer.name": "sgd" }), outcome(1, null, { "optimizer.learningRate": 0.5, "optimizer.name": "sgd" }, { error: 'training diverged: "loss", NaN\nat epoch 1' })];
  const b = [outcome(0, 0.7, { memorySize: 200 })];
  const rows = [...trialRows(a, 1, a[0]), ...trialRows(b, 2, b[0])];
  const text = formatTrialsCsv(rows);
  assert.equal(text.split("\n")[0], "update,trial,rung,epochs,status,metric,value,seconds,chosen,param:optimizer.learningRate,param:optimizer.name,param:memorySize,error");
  const back = parseTrialsCsv(text, "t.csv");
  assert.equal(back.length, 3);
  assert.equal(back[1]!["error"], 'training diverged: "loss", NaN\nat epoch 1');
  assert.equal(back[1]!["value"], "");
  assert.equal(back[2]!["param:optimizer.learningRate"], "");
  assert.equal(back[2]!["param:memorySize"], "200");
  assert.equal(back[0]!["seconds"], "1.235");
  assert.throws(() => parseTrialsCsv("a,b\n1,2\n", "h.csv"), (e: Error) => e instanceof DataError && /h\.csv is not a trials table: no column update/.test(e.message));
  assert.throws(() => parseTrialsCsv(text.replace("\n1,0,", "\n1,0,0,"), "x.csv"), /x\.csv line 2: 14 cells, the header has 13/);
});

test("previousBest: the chosen setting of the latest tuned update, read through the space, or why not", () => {
  const space = toSearchSpace({ "optimizer.learningRate": { logUniform: [1e-3, 1] }, "optimizer.momentum": { choice: [0, 0.9] } });
  const u1 = [outcome(0, 0.5, { "optimizer.learningRate": 0.01, "optimizer.momentum": 0.9 }), outcome(1, 0.6, { "optimizer.learningRate": 0.02, "optimizer.momentum": 0 })];
  const u2 = [outcome(0, 0.4, { "optimizer.learningRate": 0.3, "optimizer.momentum": 0.9 })];
  const rows = parseTrialsCsv(formatTrialsCsv([...trialRows(u1, 1, u1[1]), ...trialRows(u2, 2, u2[0])]), "h");
  assert.deepEqual(previousBest(rows, space, "val_accuracy"), { params: { "optimizer.learningRate": 0.3, "optimizer.momentum": 0.9 }, update: 2, value: 0.4 });
  assert.deepEqual(previousBest(rows, space, "val_loss"), { reason: "the history has no chosen val_loss trial" });
  const narrow = toSearchSpace({ "optimizer.learningRate": { logUniform: [1e-3, 0.1] }, "optimizer.momentum": { choice: [0, 0.9] } });
  assert.deepEqual(previousBest(rows, narrow, "val_accuracy"), { reason: "update 2's best optimizer.learningRate = 0.3 is outside this search space" });
  const other = toSearchSpace({ alpha: { uniform: [0, 1] } });
  assert.deepEqual(previousBest(rows, other, "val_accuracy"), { reason: 'update 2\'s best setting has no value for "alpha" (another search space)' });
});
