import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError, OptionsError } from "../../src/errors.js";
import { readEventFile } from "../../src/reporting/tensorboard.js";
import { trainingLogCallbacks } from "../../src/reporting/training_log.js";
import type { TrainingLog } from "../../src/reporting/training_log.js";
import type { TrainingEvent, TrainingLogs } from "../../src/training/callbacks.js";

let root: string;
let folders = 0;
const freshDir = (): string => join(root, `state-${folders++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), "relearn-training-log-"));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function fakeEvent(phase: string, epoch: number, logs: TrainingLogs, learningRate = 0.1): TrainingEvent {
  return { phase, taskId: "default_task", epoch, epochs: 2, step: 3, stepsPerEpoch: 4, learningRate, logs, control: { stopTraining: false } };
}

/** A clock that starts at 2024-01-01T00:00:00Z and ticks one second per call. */
function tickingClock(): () => number {
  let now = Date.UTC(2024, 0, 1) - 1000;
  return () => (now += 1000);
}

async function epochEnd(log: TrainingLog, event: TrainingEvent): Promise<void> {
  for (const callback of log.callbacks) await callback.onEpochEnd?.(event);
}

/** Two simulated updates into one folder, each with a fresh set of callbacks, as two `relearn update` runs would. */
async function twoUpdates(dir: string): Promise<void> {
  const clock = tickingClock();
  const first = await trainingLogCallbacks(dir, { update: 1, wallClock: clock, hostname: "h" });
  await epochEnd(first, fakeEvent("expert", 0, { train_loss: 2, train_accuracy: 0.25 }));
  await epochEnd(first, fakeEvent("expert", 1, { train_loss: 1.5, train_accuracy: 0.5 }, 0.05));
  await epochEnd(first, fakeEvent("consolidation", 0, { train_loss: 0.75, val_loss: 1.25, val_accuracy: 0.5 }));
  assert.equal(first.nextStep, 3);
  await first.close();

  const second = await trainingLogCallbacks(dir, { update: 2, wallClock: clock, hostname: "h" });
  assert.equal(second.nextStep, 3, "the step continues from the lines already logged");
  await epochEnd(second, fakeEvent("expert", 0, { train_loss: 1, train_distillation: 0.125, train_accuracy: 0.75 }));
  await epochEnd(second, fakeEvent("consolidation", 0, { train_loss: NaN, val_accuracy: 0.625 }));
  await second.close();
}

test("two updates: metrics.jsonl holds one line per epoch and phase, with a step growing across updates", async () => {
  const dir = freshDir();
  await twoUpdates(dir);
  const lines = (await readFile(join(dir, "metrics.jsonl"), "utf8")).split("\n");
  assert.equal(lines.pop(), "", "the file ends with a newline");
  assert.deepEqual(lines.map((line) => JSON.parse(line)), [
    { update: 1, phase: "expert", epoch: 0, train_loss: 2, train_accuracy: 0.25, learningRate: 0.1, step: 0, time: "2024-01-01T00:00:01.000Z" },
    { update: 1, phase: "expert", epoch: 1, train_loss: 1.5, train_accuracy: 0.5, learningRate: 0.05, step: 1, time: "2024-01-01T00:00:02.000Z" },
    { update: 1, phase: "consolidation", epoch: 0, train_loss: 0.75, val_loss: 1.25, val_accuracy: 0.5, learningRate: 0.1, step: 2, time: "2024-01-01T00:00:03.000Z" },
    { update: 2, phase: "expert", epoch: 0, train_loss: 1, train_distillation: 0.125, train_accuracy: 0.75, learningRate: 0.1, step: 3, time: "2024-01-01T00:00:05.000Z" },
    { update: 2, phase: "consolidation", epoch: 0, train_loss: null, val_accuracy: 0.625, learningRate: 0.1, step: 4, time: "2024-01-01T00:00:06.000Z" },
  ]);
  // Key order is part of the format: update, phase, epoch, metrics, then learningRate, step, time.
  assert.equal(lines[0], '{"update":1,"phase":"expert","epoch":0,"train_loss":2,"train_accuracy":0.25,"learningRate":0.1,"step":0,"time":"2024-01-01T00:00:01.000Z"}');
});

test("two updates: metrics.csv has one header, fixed columns, and other metrics as JSON", async () => {
  const dir = freshDir();
  await twoUpdates(dir);
  assert.equal(
    await readFile(join(dir, "metrics.csv"), "utf8"),
    [
      "update,phase,epoch,step,learning_rate,time,train_loss,train_accuracy,val_loss,val_accuracy,other_metrics",
      "1,expert,0,0,0.1,2024-01-01T00:00:01.000Z,2,0.25,,,",
      "1,expert,1,1,0.05,2024-01-01T00:00:02.000Z,1.5,0.5,,,",
      "1,consolidation,0,2,0.1,2024-01-01T00:00:03.000Z,0.75,,1.25,0.5,",
      '2,expert,0,3,0.1,2024-01-01T00:00:05.000Z,1,0.75,,,"{""train_distillation"":0.125}"',
      "2,consolidation,0,4,0.1,2024-01-01T00:00:06.000Z,NaN,,,0.625,",
      "",
    ].join("\n"),
  );
});

test("two updates: one event file per update with <phase>/<metric> scalars at the global step", async () => {
  const dir = freshDir();
  await twoUpdates(dir);
  const names = (await readdir(join(dir, "tensorboard"))).sort();
  // The clock reads 00:00:00 and 00:00:04 when the writers are created.
  assert.deepEqual(names, ["events.out.tfevents.1704067200.h", "events.out.tfevents.1704067204.h"]);
  const scalars = [];
  for (const name of names) {
    const records = readEventFile(new Uint8Array(await readFile(join(dir, "tensorboard", name))), name);
    assert.equal(records[0]!.fileVersion, "brain.Event:2");
    for (const record of records.slice(1)) {
      // Event times agree with metrics.jsonl: one clock reading per epoch (step 0 at 00:00:01, step 3 at 00:00:05).
      assert.equal(record.wallTime, Date.UTC(2024, 0, 1) / 1000 + record.step + 1 + (record.step >= 3 ? 1 : 0));
      for (const s of record.scalars) scalars.push(`${record.step} ${s.tag}=${s.value}`);
    }
  }
  assert.deepEqual(scalars, [
    "0 expert/train_loss=2", "0 expert/train_accuracy=0.25", `0 expert/learning_rate=${Math.fround(0.1)}`,
    "1 expert/train_loss=1.5", "1 expert/train_accuracy=0.5", `1 expert/learning_rate=${Math.fround(0.05)}`,
    "2 consolidation/train_loss=0.75", "2 consolidation/val_loss=1.25", "2 consolidation/val_accuracy=0.5", `2 consolidation/learning_rate=${Math.fround(0.1)}`,
    "3 expert/train_loss=1", "3 expert/train_distillation=0.125", "3 expert/train_accuracy=0.75", `3 expert/learning_rate=${Math.fround(0.1)}`,
    "4 consolidation/train_loss=NaN", "4 consolidation/val_accuracy=0.625", `4 consolidation/learning_rate=${Math.fround(0.1)}`,
  ]);
});

test("appends to files copied from an earlier state, repairing a missing final newline", async () => {
  const dir = freshDir();
  await mkdir(dir, { recursive: true });
  const oldLine = '{"update":1,"phase":"joint","epoch":0,"train_loss":1,"learningRate":0.1,"step":0,"time":"x"}';
  await writeFile(join(dir, "metrics.jsonl"), `${oldLine}\n${oldLine.replace('"step":0', '"step":1')}`);
  const header = "update,phase,epoch,step,learning_rate,time,train_loss,train_accuracy,val_loss,val_accuracy,other_metrics";
  await writeFile(join(dir, "metrics.csv"), `${header}\n1,joint,0,0,0.1,x,1,,,,\n1,joint,1,1,0.1,x,1,,,,\n`);

  const log = await trainingLogCallbacks(dir, { update: 2, tensorboard: false, wallClock: () => 0 });
  assert.equal(log.nextStep, 2);
  assert.deepEqual(log.files, { jsonl: join(dir, "metrics.jsonl"), csv: join(dir, "metrics.csv") });
  await epochEnd(log, fakeEvent("joint", 0, { train_loss: 0.5 }));
  await log.close();

  const jsonl = (await readFile(join(dir, "metrics.jsonl"), "utf8")).trimEnd().split("\n");
  assert.equal(jsonl.length, 3);
  assert.deepEqual(JSON.parse(jsonl[2]!), { update: 2, phase: "joint", epoch: 0, train_loss: 0.5, learningRate: 0.1, step: 2, time: "1970-01-01T00:00:00.000Z" });
  const csv = (await readFile(join(dir, "metrics.csv"), "utf8")).trimEnd().split("\n");
  assert.equal(csv.filter((line) => line === header).length, 1);
  assert.equal(csv[3], "2,joint,0,2,0.1,1970-01-01T00:00:00.000Z,0.5,,,,");
  await assert.rejects(access(join(dir, "tensorboard")), { code: "ENOENT" });
});

test("a metrics.csv with another header is refused, not mixed", async () => {
  const dir = freshDir();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "metrics.csv"), "epoch,loss\n0,1\n");
  await assert.rejects(trainingLogCallbacks(dir, { update: 1, tensorboard: false }), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.match(error.message, /metrics\.csv: header "epoch,loss" differs from "update,phase,/);
    return true;
  });
  // With csv off the same folder is fine.
  const log = await trainingLogCallbacks(dir, { update: 1, tensorboard: false, csv: false });
  assert.equal(log.nextStep, 1, "the csv's data rows still count toward the step");
  await log.close();
});

test("outputs can be switched off; startStep overrides the count; an update numbered below 1 is an OptionsError", async () => {
  const dir = freshDir();
  const log = await trainingLogCallbacks(dir, { update: 4, jsonl: false, csv: false, startStep: 100, wallClock: () => 5000, hostname: "h" });
  assert.deepEqual(Object.keys(log.files), ["tensorboard"]);
  await epochEnd(log, fakeEvent("expert", 0, { train_loss: 1 }));
  assert.equal(log.nextStep, 101);
  await log.close();
  assert.deepEqual(await readdir(dir), ["tensorboard"]);
  const records = readEventFile(new Uint8Array(await readFile(log.files.tensorboard!)));
  assert.deepEqual(records.slice(1).map((r) => r.step), [100, 100]);

  for (const update of [0, -1, 1.5]) {
    await assert.rejects(trainingLogCallbacks(freshDir(), { update }), { name: OptionsError.name, message: new RegExp(`update is numbered from 1 .*got ${update}`) });
  }
  await assert.rejects(trainingLogCallbacks(freshDir(), { update: 1, startStep: 0.5 }), { name: OptionsError.name, message: /startStep/ });
});
