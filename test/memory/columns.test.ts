import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryError } from "../../src/errors.js";
import {
  ColumnStore,
  assertSameFeatureShape,
  assertSameSchema,
  describeMetadata,
  metadataColumnName,
  type MetadataSchema,
} from "../../src/memory/columns.js";

const schema = { logits: { dtype: "float32", rowShape: [2] }, tag: { dtype: "int32", rowShape: [] } } as const;

function sourceRows() {
  // Three rows of 2x2 features; row r has features r*10 + 0..3, label r, logits [r, -r], tag 100 + r.
  return {
    features: Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]),
    labels: Int32Array.from([0, 1, 2]),
    metadata: {
      logits: { values: Float32Array.from([0, -0, 1, -1, 2, -2]), rowShape: [2] },
      tag: { values: Int32Array.from([100, 101, 102]), rowShape: [] },
    },
  };
}

test("rows are written to slots, gathered in the order asked, and exported trimmed", () => {
  const store = new ColumnStore(5, [2, 2], schema);
  const { features, labels, metadata } = sourceRows();
  store.writeRow(0, features, labels, metadata, 2, 4);
  store.writeRow(1, features, labels, metadata, 0, 7);
  store.writeRow(0, features, labels, metadata, 1, 5); // overwrite keeps length
  assert.equal(store.length, 2);

  const got = store.gather([1, 0, 1]);
  assert.deepEqual([...got.features], [0, 1, 2, 3, 10, 11, 12, 13, 0, 1, 2, 3]);
  assert.deepEqual([...got.labels], [0, 1, 0]);
  assert.deepEqual([...got.tasks], [7, 5, 7], "the task index travels with its row");
  assert.ok(got.metadata.logits instanceof Float32Array);
  assert.ok(got.metadata.tag instanceof Int32Array);
  assert.deepEqual([...got.metadata.logits!], [0, -0, 1, -1, 0, -0]);
  assert.deepEqual([...got.metadata.tag!], [100, 101, 100]);

  const exported = store.export();
  assert.deepEqual(Object.keys(exported).sort(), ["metadata.logits", "metadata.tag", "t", "x", "y"]);
  assert.equal(exported.x!.length, 8);
  assert.deepEqual([...exported.y!], [1, 0]);
  assert.deepEqual([...exported.t!], [5, 7]);
  assert.deepEqual([...exported[metadataColumnName("tag")]!], [101, 100]);
  // Exported columns are copies: later writes do not reach them.
  store.writeRow(0, features, labels, metadata, 2);
  assert.deepEqual([...exported.y!], [1, 0]);
});

test("growth past the initial allocation keeps earlier rows", () => {
  const store = new ColumnStore(100, [1], {});
  for (let i = 0; i < 100; i++) {
    store.writeRow(i, Float32Array.of(i + 0.5), Int32Array.of(i % 7), {}, 0);
  }
  const all = store.gather(Array.from({ length: 100 }, (_, i) => 99 - i));
  assert.equal(all.features[0], 99.5);
  assert.equal(all.features[99], 0.5);
  assert.equal(all.labels[0], 99 % 7);
});

test("writes that would leave a hole or exceed capacity, and out-of-range gathers, are refused", () => {
  const store = new ColumnStore(2, [2, 2], schema);
  const { features, labels, metadata } = sourceRows();
  assert.throws(() => store.writeRow(1, features, labels, metadata, 0), /cannot write slot 1.*length 0/);
  store.writeRow(0, features, labels, metadata, 0);
  store.writeRow(1, features, labels, metadata, 1);
  assert.throws(() => store.writeRow(2, features, labels, metadata, 2), /capacity 2/);
  assert.throws(() => store.gather([0, 2]), (e: unknown) => e instanceof MemoryError && /slot 2 \(position 1\)/.test(e.message));
  assert.throws(() => store.gather([0.5]), MemoryError);
});

test("a metadata column is replaced for all stored rows, with dtype and length checked", () => {
  const store = new ColumnStore(4, [2, 2], schema);
  const { features, labels, metadata } = sourceRows();
  for (let i = 0; i < 3; i++) store.writeRow(i, features, labels, metadata, i);
  store.replaceMetadataColumn("logits", Float32Array.from([9, 8, 7, 6, 5, 4]));
  assert.deepEqual([...store.metadataView("logits")], [9, 8, 7, 6, 5, 4]);
  assert.deepEqual([...store.gather([2]).metadata.logits!], [5, 4]);
  assert.throws(() => store.replaceMetadataColumn("logits", Float32Array.from([1, 2])), /"logits".*need 6 values, got 2/);
  assert.throws(() => store.replaceMetadataColumn("logits", new Int32Array(6)), /holds float32 values, got int32/);
  assert.throws(() => store.replaceMetadataColumn("nope", new Float32Array(6)), /no metadata column "nope".*logits, tag/);
});

test("metadata descriptions and schema comparisons name the key and both shapes or dtypes", () => {
  const fixed: MetadataSchema = describeMetadata({ logits: { values: new Float32Array(6), rowShape: [3] } }, 2);
  assert.deepEqual(fixed, { logits: { dtype: "float32", rowShape: [3] } });

  assert.throws(
    () => describeMetadata({ logits: { values: new Float32Array(5), rowShape: [3] } }, 2),
    /"logits": 2 dataset rows with row shape \[3\] need 6 values, got 5/,
  );
  assert.throws(
    () => describeMetadata({ logits: { values: [1, 2] as unknown as Float32Array, rowShape: [2] } }, 1),
    /Float32Array or an Int32Array/,
  );
  assert.throws(() => describeMetadata({ "a b": { values: new Float32Array(0), rowShape: [] } }, 0), /"a b" is not allowed/);
  assert.throws(() => describeMetadata({ v: { values: new Float32Array(0), rowShape: [0] } }, 0), /positive integers/);

  const wider = describeMetadata({ logits: { values: new Float32Array(8), rowShape: [4] } }, 2);
  assert.throws(
    () => assertSameSchema(fixed, wider),
    (e: unknown) =>
      e instanceof MemoryError && /"logits" has dtype float32 and row shape \[4\].*dtype float32 and row shape \[3\]/.test(e.message),
  );
  const ints = describeMetadata({ logits: { values: new Int32Array(6), rowShape: [3] } }, 2);
  assert.throws(() => assertSameSchema(fixed, ints), /"logits" has dtype int32 .* holds dtype float32/);
  assert.throws(() => assertSameSchema(fixed, {}), /"logits" is missing/);
  const extra: MetadataSchema = { logits: { dtype: "float32", rowShape: [3] }, tag: { dtype: "int32", rowShape: [] } };
  assert.throws(() => assertSameSchema(fixed, extra), /"tag" is unknown/);
  assert.doesNotThrow(() => assertSameSchema(fixed, { logits: { dtype: "float32", rowShape: [3] } }));

  assert.throws(() => assertSameFeatureShape([28, 28], [784]), /featureShape \[784\] does not match .*\[28, 28\]/);
  assert.doesNotThrow(() => assertSameFeatureShape([28, 28], [28, 28]));
});
