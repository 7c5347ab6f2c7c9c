import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DataError, MemoryError, OptionsError } from "../../src/errors.js";
import { createDataset, type Dataset } from "../../src/data/dataset.js";
import { ReplayBuffer } from "../../src/memory/replay_buffer.js";
import type { ReplayBufferSnapshot } from "../../src/memory/buffer_snapshot.js";
import type { MetadataRows } from "../../src/memory/columns.js";
import type { SlotPolicyName } from "../../src/memory/slot_policy.js";
import { unseenClassLogit, widenStoredLogits } from "../../src/updaters/stored_logits.js";

const NUM_CLASSES = 4;

/** Items first..first+n-1; item v has features [v, v+0.5], label v % 4 and metadata derived from v. */
function chunk(first: number, n: number, numClasses = NUM_CLASSES): { dataset: Dataset; metadata: Record<string, MetadataRows> } {
  const ids = Array.from({ length: n }, (_, i) => first + i);
  return {
    dataset: createDataset({
      features: Float32Array.from(ids.flatMap((v) => [v, v + 0.5])),
      labels: Int32Array.from(ids, (v) => v % numClasses),
      featureShape: [2],
      numClasses,
    }),
    metadata: {
      logits: { values: Float32Array.from(ids.flatMap((v) => [v, -v, v / 4])), rowShape: [3] },
      tag: { values: Int32Array.from(ids, (v) => 7 * v + 1), rowShape: [] },
    },
  };
}

function addChunk(buffer: ReplayBuffer, first: number, n: number, numClasses = NUM_CLASSES): void {
  const { dataset, metadata } = chunk(first, n, numClasses);
  buffer.add(dataset, metadata);
}

/** Snapshot meta goes through JSON, as it would through a state folder. */
function viaJson(snapshot: ReplayBufferSnapshot): ReplayBufferSnapshot {
  return { meta: JSON.parse(JSON.stringify(snapshot.meta)), columns: snapshot.columns };
}

test("metadata follows its item through every overwrite, for both policies", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 25 }),
      fc.array(fc.nat(40), { minLength: 1, maxLength: 6 }),
      fc.integer(),
      fc.constantFrom<SlotPolicyName>("reservoir", "class-balanced"),
      (capacity, sizes, seed, policy) => {
        const buffer = new ReplayBuffer({ capacity, policy, seed });
        let first = 0;
        for (const n of sizes) {
          addChunk(buffer, first, n);
          first += n;
        }
        const slots = Array.from({ length: buffer.length }, (_, i) => buffer.length - 1 - i);
        const { features, labels, metadata } = buffer.get(slots);
        for (let i = 0; i < slots.length; i++) {
          const v = features[2 * i]!;
          assert.equal(features[2 * i + 1], v + 0.5);
          assert.equal(labels[i], v % NUM_CLASSES);
          assert.deepEqual([...metadata.logits!.subarray(3 * i, 3 * i + 3)], [v, -v, v / 4]);
          assert.equal(metadata.tag![i], 7 * v + 1);
        }
        assert.equal(buffer.metadataColumn("tag").length, buffer.length);
      },
    ),
    { numRuns: 60 },
  );
});

test("a metadata schema or feature shape that differs from the first insert is refused, and nothing changes", () => {
  const buffer = new ReplayBuffer({ capacity: 10, seed: 1 });
  addChunk(buffer, 0, 3);
  const { dataset } = chunk(3, 2);
  const logits = (values: Float32Array | Int32Array, rowShape: number[]) => ({
    logits: { values, rowShape },
    tag: { values: new Int32Array(2), rowShape: [] },
  });
  assert.throws(
    () => buffer.add(dataset, logits(new Float32Array(8), [4])),
    (e: unknown) => e instanceof MemoryError && /"logits" has dtype float32 and row shape \[4\].*row shape \[3\]/.test(e.message),
  );
  assert.throws(() => buffer.add(dataset, logits(new Int32Array(6), [3])), /"logits" has dtype int32.*holds dtype float32/);
  assert.throws(() => buffer.add(dataset, { logits: { values: new Float32Array(6), rowShape: [3] } }), /"tag" is missing/);
  assert.throws(() => buffer.add(dataset), /"logits" is missing/);
  assert.throws(
    () => buffer.add(dataset, { ...logits(new Float32Array(6), [3]), extra: { values: new Float32Array(2), rowShape: [] } }),
    /"extra" is unknown/,
  );
  assert.throws(() => buffer.add(dataset, logits(new Float32Array(5), [3])), /"logits": 2 dataset rows .* need 6 values, got 5/);
  const wide = createDataset({ features: new Float32Array(6), labels: [0, 1], featureShape: [3], numClasses: 2 });
  assert.throws(() => buffer.add(wide, logits(new Float32Array(6), [3])), /featureShape \[3\] does not match .*\[2\]/);
  const broken = { ...dataset, labels: Int32Array.of(0, 9) };
  assert.throws(() => buffer.add(broken, logits(new Float32Array(6), [3])), (e: unknown) => e instanceof DataError && /row 1 has label 9/.test(e.message));
  assert.equal(buffer.seen, 3);
  assert.equal(buffer.length, 3);
});

test("setMetadataColumn replaces stored rows in slot order and checks the length", () => {
  const buffer = new ReplayBuffer({ capacity: 5, seed: 2 });
  addChunk(buffer, 0, 9);
  const refreshed = Float32Array.from({ length: 15 }, (_, i) => 100 + i);
  buffer.setMetadataColumn("logits", refreshed);
  assert.deepEqual([...buffer.get([3]).metadata.logits!], [109, 110, 111]);
  assert.deepEqual([...buffer.metadataColumn("logits")], [...refreshed]);
  assert.throws(() => buffer.setMetadataColumn("logits", new Float32Array(12)), /5 stored rows .* need 15 values, got 12/);
  assert.throws(() => buffer.setMetadataColumn("nope", new Float32Array(15)), MemoryError);
});

test("asDataset shares the stored arrays and numClasses is the maximum over inserts", () => {
  const buffer = new ReplayBuffer({ capacity: 6, seed: 4 });
  addChunk(buffer, 0, 4, 5);
  addChunk(buffer, 4, 4, 3);
  const ds = buffer.asDataset();
  assert.equal(ds.length, 6);
  assert.equal(ds.numClasses, 5);
  assert.deepEqual(ds.featureShape, [2]);
  assert.equal(ds.features.length, 12);
  ds.features[0] = -42;
  assert.equal(buffer.get([0]).features[0], -42, "asDataset must be a view, not a copy");
  assert.equal(buffer.classHistogram().length, 5);
  assert.equal(buffer.classHistogram().reduce((a, b) => a + b, 0), 6);
});

test("capacity 0 stores nothing, still counts seen and round-trips", () => {
  const buffer = new ReplayBuffer({ capacity: 0, policy: "class-balanced", seed: 5 });
  addChunk(buffer, 0, 7);
  assert.equal(buffer.length, 0);
  assert.equal(buffer.seen, 7);
  assert.equal(buffer.asDataset().length, 0);
  assert.deepEqual(buffer.get([]).labels, new Int32Array(0));
  const restored = ReplayBuffer.fromSnapshot(viaJson(buffer.toSnapshot()));
  assert.equal(restored.seen, 7);
  addChunk(restored, 7, 3);
  assert.equal(restored.length, 0);
  assert.equal(restored.seen, 10);
});

test("an empty buffer (no insert yet) works and round-trips", () => {
  const buffer = new ReplayBuffer({ capacity: 3, seed: 6 });
  assert.equal(buffer.length, 0);
  assert.equal(buffer.featureShape, null);
  assert.deepEqual(buffer.classHistogram(), []);
  assert.equal(buffer.asDataset().length, 0);
  assert.throws(() => buffer.get([0]), /slot 0 .* holds 0 items/);
  const snapshot = buffer.toSnapshot();
  assert.equal(snapshot.meta.featureShape, null);
  const restored = ReplayBuffer.fromSnapshot(viaJson(snapshot));
  const fresh = new ReplayBuffer({ capacity: 3, seed: 6 });
  addChunk(restored, 0, 10);
  addChunk(fresh, 0, 10);
  assert.deepEqual(restored.toSnapshot(), fresh.toSnapshot());
});

for (const policy of ["reservoir", "class-balanced"] as const) {
  test(`${policy}: a restored buffer continues the same random stream`, () => {
    const a = new ReplayBuffer({ capacity: 20, policy, seed: 77 });
    addChunk(a, 0, 50);
    addChunk(a, 50, 60, 6);

    const b = new ReplayBuffer({ capacity: 20, policy, seed: 77 });
    addChunk(b, 0, 50);
    const snapshot = viaJson(b.toSnapshot());
    const resumed = ReplayBuffer.fromSnapshot(snapshot);
    assert.deepEqual(resumed.toSnapshot(), b.toSnapshot(), "round trip changed the buffer");
    addChunk(resumed, 50, 60, 6);

    assert.equal(resumed.seen, a.seen);
    assert.deepEqual(resumed.toSnapshot().columns, a.toSnapshot().columns);
    assert.deepEqual(resumed.randomState(), a.randomState());
    assert.deepEqual(resumed.classHistogram(), a.classHistogram());

    // Without the saved random state the continuation differs (the test can tell streams apart).
    const reseeded = ReplayBuffer.fromSnapshot({ ...snapshot, meta: { ...snapshot.meta, randomState: [1, 2, 3, 4] } });
    addChunk(reseeded, 50, 60, 6);
    assert.notDeepEqual(reseeded.toSnapshot().columns, a.toSnapshot().columns);
  });
}

test("snapshots are JSON meta plus length-trimmed copies", () => {
  const buffer = new ReplayBuffer({ capacity: 1000, policy: "class-balanced", seed: 8 });
  addChunk(buffer, 0, 5);
  const { meta, columns } = buffer.toSnapshot();
  assert.deepEqual(JSON.parse(JSON.stringify(meta)), meta);
  assert.equal(meta.format, "relearn-replay-buffer");
  assert.deepEqual(meta.metadata, { logits: { dtype: "float32", rowShape: [3] }, tag: { dtype: "int32", rowShape: [] } });
  assert.deepEqual(meta.policyState, { classesSeen: [0, 1, 2, 3] });
  assert.equal(columns.x!.length, 10);
  assert.equal(columns["metadata.logits"]!.length, 15);
  columns.y![0] = 3;
  assert.equal(buffer.get([0]).labels[0], 0);
});

test("fromSnapshot names every inconsistency", () => {
  const buffer = new ReplayBuffer({ capacity: 8, policy: "class-balanced", seed: 9 });
  addChunk(buffer, 0, 12);
  const good = buffer.toSnapshot();
  const withMeta = (patch: Record<string, unknown>) => ({ meta: { ...good.meta, ...patch }, columns: good.columns }) as ReplayBufferSnapshot;
  const withColumns = (patch: Record<string, unknown>) => ({ meta: good.meta, columns: { ...good.columns, ...patch } }) as ReplayBufferSnapshot;
  const without = (name: string) => {
    const columns = { ...good.columns };
    delete columns[name];
    return { meta: good.meta, columns };
  };
  const cases: [ReplayBufferSnapshot, RegExp][] = [
    [withMeta({ format: "other" }), /meta\.format/],
    [withMeta({ version: 3 }), /meta\.version/],
    [withMeta({ taskIds: undefined }), /meta\.taskIds is missing/],
    [withMeta({ taskIds: ["a", "a"] }), /meta\.taskIds has duplicates/],
    [withMeta({ taskIds: [] }), /column "t" slot 0 holds task index 0, outside \[0, 0\) \(meta\.taskIds\)/],
    [withColumns({ t: new Int32Array(8).fill(-1) }), /column "t" slot 0 holds task index -1/],
    [without("t"), /column "t" is missing/],
    [withMeta({ version: 1, taskIds: undefined }), /column "t" is not part of a version 1 snapshot/],
    [withMeta({ policy: "fifo" }), /meta\.policy/],
    [withMeta({ capacity: -1 }), /meta\.capacity/],
    [withMeta({ capacity: 4 }), /meta\.length 8 exceeds meta\.capacity 4/],
    [withMeta({ seen: 5 }), /meta\.length 8 is inconsistent with meta\.seen 5/],
    [withMeta({ numClasses: 2 }), /column "y" slot \d+ holds label [23], outside \[0, 2\)/],
    [withMeta({ randomState: [1, 2, 3] }), /meta\.randomState/],
    [withMeta({ randomState: [0, 0, 0, 0] }), /all zeros/],
    [withMeta({ extra: true }), /extra/],
    [withMeta({ featureShape: null }), /featureShape is null .* meta\.seen is 12/],
    [withMeta({ policyState: { classesSeen: [0, 1] } }), /meta\.policyState: .*lacks class [23]/],
    [without("x"), /column "x" is missing/],
    [without("metadata.logits"), /column "metadata\.logits" is missing/],
    [withColumns({ y: new Int32Array(7) }), /column "y" has 7 values, expected 8/],
    [withColumns({ x: new Int32Array(16) }), /column "x" must be a Float32Array, got int32/],
    [withColumns({ "metadata.tag": new Float32Array(8) }), /column "metadata\.tag" must be an Int32Array/],
    [withColumns({ stray: new Float32Array(1) }), /column "stray" is not described by meta/],
    [{ meta: good.meta } as unknown as ReplayBufferSnapshot, /columns must be an object/],
    [null as unknown as ReplayBufferSnapshot, /expected an object/],
  ];
  for (const [snapshot, pattern] of cases) {
    assert.throws(
      () => ReplayBuffer.fromSnapshot(snapshot),
      (e: unknown) => e instanceof MemoryError && pattern.test(e.message) && e.message.startsWith("replay buffer snapshot:"),
      `expected ${pattern}`,
    );
  }
  const reservoir = new ReplayBuffer({ capacity: 2, seed: 1 }).toSnapshot();
  assert.throws(
    () => ReplayBuffer.fromSnapshot({ ...reservoir, meta: { ...reservoir.meta, policyState: { classesSeen: [] } } }),
    /reservoir policy state must be empty/,
  );
  assert.doesNotThrow(() => ReplayBuffer.fromSnapshot(good));
});

test("each item keeps the task it was added under, through overwrites and a snapshot", () => {
  fc.assert(
    fc.property(
      fc.constantFrom<SlotPolicyName>("reservoir", "class-balanced"),
      fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: 1, max: 9 })), { minLength: 1, maxLength: 8 }),
      (policy, chunks) => {
        const buffer = new ReplayBuffer({ capacity: 7, policy, seed: 4 });
        let first = 0;
        const taskOfFirstFeature = new Map<number, string>();
        for (const [taskId, n] of chunks) {
          const { dataset, metadata } = chunk(first, n, NUM_CLASSES);
          buffer.add(dataset, metadata, taskId);
          for (let i = 0; i < n; i++) taskOfFirstFeature.set(dataset.features[i * dataset.featureShape.reduce((a, d) => a * d, 1)]!, taskId);
          first += n;
        }
        assert.deepEqual(buffer.taskIds, [...new Set(chunks.map(([taskId]) => taskId))], "task ids in first-seen order");
        const check = (b: ReplayBuffer) => {
          const { taskIds, rows } = b.tasks();
          const stored = b.asDataset();
          const size = stored.features.length / stored.length;
          for (let slot = 0; slot < stored.length; slot++) {
            assert.equal(taskIds[rows[slot]!], taskOfFirstFeature.get(stored.features[slot * size]!), `slot ${slot}`);
          }
          assert.deepEqual(Array.from(b.get([0]).tasks), [rows[0]]);
        };
        check(buffer);
        const restored = ReplayBuffer.fromSnapshot(viaJson(buffer.toSnapshot()));
        check(restored);
        assert.deepEqual(restored.toSnapshot(), buffer.toSnapshot());
      },
    ),
    { numRuns: 50 },
  );
});

test("a version 1 snapshot (no task ids) reads as the legacy task given, and without one is refused once it holds items", () => {
  const buffer = new ReplayBuffer({ capacity: 6, seed: 2 });
  addChunk(buffer, 0, 9);
  const legacy = asVersion1(buffer.toSnapshot());
  assert.throws(
    () => ReplayBuffer.fromSnapshot(legacy),
    (e: unknown) => e instanceof MemoryError && /version 1 snapshot: its 6 items record no task id/.test(e.message) && /fresh state/.test(e.message),
  );
  const read = ReplayBuffer.fromSnapshot(legacy, { legacyTaskId: "only" });
  assert.deepEqual(read.tasks(), { taskIds: ["only"], rows: new Int32Array(6) });
  assert.deepEqual(read.asDataset(), buffer.asDataset());
  assert.equal(read.toSnapshot().meta.version, 2, "written back in the current version");
  // An empty version 1 buffer has nothing to misroute.
  assert.deepEqual(ReplayBuffer.fromSnapshot(asVersion1(new ReplayBuffer({ capacity: 3 }).toSnapshot())).taskIds, []);
});

/** A snapshot as relearn wrote it before items recorded their task (version 1: no meta.taskIds, no column "t"). */
function asVersion1(snapshot: ReplayBufferSnapshot): { meta: unknown; columns: ReplayBufferSnapshot["columns"] } {
  const columns = { ...snapshot.columns };
  delete columns.t;
  const meta: Record<string, unknown> = { ...snapshot.meta, version: 1 };
  delete meta.taskIds;
  return { meta, columns };
}

test("constructor options are checked", () => {
  assert.throws(() => new ReplayBuffer({ capacity: -1 }), (e: unknown) => e instanceof OptionsError && /capacity/.test(e.message));
  assert.throws(() => new ReplayBuffer({ capacity: 1.5 }), OptionsError);
  assert.throws(() => new ReplayBuffer({ capacity: 1, policy: "fifo" as SlotPolicyName }), /policy must be one of reservoir, class-balanced/);
  assert.throws(() => new ReplayBuffer({ capacity: 1, seed: 0.5 }), /seed/);
  assert.throws(() => new ReplayBuffer({ capacity: 1, size: 3 } as never), /unknown option "size"/);
  const defaults = new ReplayBuffer({ capacity: 2 });
  assert.equal(defaults.policy, "reservoir");
  assert.deepEqual(defaults.randomState(), new ReplayBuffer({ capacity: 2, seed: 0 }).randomState());
});

test("widenMetadataColumn keeps every stored row bit for bit, fills the new values from the row, and round-trips", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 4, max: 7 }), fc.integer({ min: 0, max: 1000 }), (capacity, items, width, seed) => {
      const buffer = new ReplayBuffer({ capacity, seed });
      if (items === 0) {
        buffer.widenMetadataColumn("logits", width, () => 0); // nothing stored: the first insert fixes the width
        assert.deepEqual(buffer.metadataSchema, {});
        return;
      }
      addChunk(buffer, 0, items);
      const before = Float32Array.from(buffer.metadataColumn("logits"));
      const tags = Array.from(buffer.metadataColumn("tag"));
      buffer.widenMetadataColumn("logits", width, (row) => row[0]! * 10 + row.length);
      assert.deepEqual(buffer.metadataSchema["logits"]!.rowShape, [width]);
      const after = buffer.metadataColumn("logits");
      for (let slot = 0; slot < buffer.length; slot++) {
        const old = Array.from(before.subarray(slot * 3, slot * 3 + 3));
        assert.deepEqual(Array.from(after.subarray(slot * width, (slot + 1) * width)), [...old, ...Array<number>(width - 3).fill(old[0]! * 10 + 3)]);
      }
      assert.deepEqual(Array.from(buffer.metadataColumn("tag")), tags, "other columns untouched");
      const restored = ReplayBuffer.fromSnapshot(viaJson(buffer.toSnapshot()));
      assert.deepEqual(Array.from(restored.metadataColumn("logits")), Array.from(after));
      // Later inserts bring rows of the new width; the old width is refused.
      const { dataset } = chunk(100, 2);
      assert.throws(() => restored.add(dataset, chunk(100, 2).metadata), /row shape \[3\], but the buffer holds dtype float32 and row shape \[/);
      restored.add(dataset, { logits: { values: new Float32Array(2 * width), rowShape: [width] }, tag: { values: new Int32Array(2), rowShape: [] } });
    }),
    { numRuns: 60 },
  );
});

test("widenMetadataColumn refuses to narrow, int32 or multi-dimensional columns and unknown keys; the same width is a no-op", () => {
  const buffer = new ReplayBuffer({ capacity: 4, seed: 1 });
  addChunk(buffer, 0, 3);
  const fill = () => 0;
  assert.throws(() => buffer.widenMetadataColumn("logits", 2, fill), (e: Error) => e instanceof MemoryError && /holds 3 values per row and cannot be narrowed to 2/.test(e.message));
  assert.throws(() => buffer.widenMetadataColumn("tag", 2, fill), (e: Error) => e instanceof MemoryError && /only 1-D float32 columns can/.test(e.message));
  assert.throws(() => buffer.widenMetadataColumn("nope", 4, fill), (e: Error) => e instanceof MemoryError && /no metadata column "nope" to widen \(the buffer has: logits, tag\)/.test(e.message));
  const before = Array.from(buffer.metadataColumn("logits"));
  buffer.widenMetadataColumn("logits", 3, fill);
  assert.deepEqual(Array.from(buffer.metadataColumn("logits")), before);
});

test("widenStoredLogits gives a new class each row's lowest logit", () => {
  fc.assert(
    fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 2, maxLength: 6 }), (row) => {
      const values = Float32Array.from(row);
      assert.equal(unseenClassLogit(values), Math.min(...values));
    }),
  );
  const buffer = new ReplayBuffer({ capacity: 4, seed: 1 });
  addChunk(buffer, 1, 2); // logits rows [1, -1, 0.25] and [2, -2, 0.5]
  widenStoredLogits(buffer, "logits", 5);
  assert.deepEqual(Array.from(buffer.metadataColumn("logits")), [1, -1, 0.25, -1, -1, 2, -2, 0.5, -2, -2]);
});
