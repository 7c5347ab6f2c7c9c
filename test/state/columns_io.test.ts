import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readColumn, readJson, writeColumn, writeJson } from "../../src/state/columns_io.js";
import { stableStringify } from "../../src/state/format.js";
import { MemoryStateFiles } from "../helpers/memory_files.js";

/** The files of a state held in memory: what every store's writer and reader see. */
function scratch(): MemoryStateFiles {
  return new MemoryStateFiles("mem://state");
}

test("columns are raw little-endian bytes described by { file, dtype, length }", async () => {
  const dir = scratch();
  const descriptor = await writeColumn(dir, "", "labels", Int32Array.from([1, -2]));
  assert.deepEqual(descriptor, { file: "labels.bin", dtype: "int32", length: 2 });
  assert.deepEqual([...(await dir.readFile("labels.bin"))], [1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
  const floats = await writeColumn(dir, "", "f", Float32Array.from([1]));
  assert.deepEqual([...(await dir.readFile(floats.file))], [0, 0, 0x80, 0x3f]);
});

test("every dtype round-trips bit for bit, including views at an offset and special floats", async () => {
  const dir = scratch();
  const backing = new Float32Array([7, Number.NaN, -0, Infinity, 1e-42, 8]);
  const cases = [
    new Float32Array(backing.buffer, 4, 4), // NaN, -0, Infinity, a subnormal
    Float64Array.from([Math.PI, -0, Number.MIN_VALUE, -Infinity]),
    Int32Array.from([2147483647, -2147483648, 0]),
    Uint8Array.from([0, 255, 128]),
    new Uint8Array(0),
  ];
  for (const [i, array] of cases.entries()) {
    const descriptor = await writeColumn(dir, "", `sub/c${i}`, array);
    assert.equal(descriptor.file, `sub/c${i}.bin`);
    const back = await readColumn(dir, "", descriptor);
    assert.equal(back.constructor, array.constructor);
    assert.deepEqual(new Uint8Array(back.buffer), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }
});

test("property: random float32 columns round-trip", async () => {
  await fc.assert(
    fc.asyncProperty(fc.float32Array({ maxLength: 50 }), async (values) => {
      const files = scratch();
      const back = await readColumn(files, "", await writeColumn(files, "", "p", values), { dtype: "float32" });
      return Buffer.from(back.buffer).equals(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    }),
    { numRuns: 30 },
  );
});

test("readColumn names the file when it is truncated, missing or not what was expected", async () => {
  const dir = scratch();
  const descriptor = await writeColumn(dir, "", "x", Float64Array.from([1, 2, 3]));
  await assert.rejects(readColumn(dir, "", descriptor, { dtype: "float32" }), {
    name: "StateError",
    message: /x\.bin holds float64 values, but float32 values were expected/,
  });
  await assert.rejects(readColumn(dir, "", descriptor, { dtype: "float64", length: 4 }), {
    name: "StateError",
    message: /x\.bin holds 3 values, but 4 were expected/,
  });
  dir.files.set("x.bin", (await dir.readFile("x.bin")).slice(0, 20));
  await assert.rejects(readColumn(dir, "", descriptor), {
    name: "StateError",
    message: /x\.bin has 20 bytes, but 3 float64 values take 24: the file was modified or truncated/,
  });
  await assert.rejects(readColumn(dir, "", { file: "gone.bin", dtype: "uint8", length: 1 }), {
    name: "StateError",
    message: /gone\.bin is missing/,
  });
  await assert.rejects(readColumn(dir, "", { file: "../x.bin", dtype: "uint8", length: 1 }), {
    name: "StateError",
    message: /invalid state file name "\.\.\/x"/,
  });
  await assert.rejects(readColumn(dir, "", { file: "x.bin", dtype: "int8" as "uint8", length: 1 }), {
    name: "StateError",
    message: /invalid column descriptor/,
  });
});

test("writeColumn refuses names that leave the folder and arrays it cannot describe", async () => {
  const dir = scratch();
  for (const name of ["../up", "/abs", "a//b", ".hidden", ""]) {
    await assert.rejects(writeColumn(dir, "", name, new Uint8Array(1)), { name: "StateError", message: /invalid state file name/ });
  }
  await assert.rejects(writeColumn(dir, "", "i16", new Int16Array(1) as unknown as Uint8Array), {
    name: "StateError",
    message: /a column must be a Float32Array, Float64Array, Int32Array or Uint8Array, got Int16Array/,
  });
});

test("writeJson writes sorted keys; readJson reads it back or names the broken file", async () => {
  const dir = scratch();
  assert.equal(await writeJson(dir, "meta/options", { z: 1, a: { y: [1, { d: 2, c: 3 }], x: null } }), "meta/options.json");
  assert.equal(
    new TextDecoder().decode(await dir.readFile("meta/options.json")),
    '{\n  "a": {\n    "x": null,\n    "y": [\n      1,\n      {\n        "c": 3,\n        "d": 2\n      }\n    ]\n  },\n  "z": 1\n}\n',
  );
  assert.deepEqual(await readJson(dir, "meta/options"), { a: { x: null, y: [1, { c: 3, d: 2 }] }, z: 1 });
  dir.files.set("bad.json", new TextEncoder().encode("{"));
  await assert.rejects(readJson(dir, "bad"), { name: "StateError", message: /bad\.json is not valid JSON/ });
  await assert.rejects(readJson(dir, "absent"), { name: "StateError", message: /absent\.json is missing/ });
  await assert.rejects(writeJson(dir, "m", { m: new Map() }), { name: "StateError", message: /m\.json\.m is a Map/ });
});

test("property: stableStringify round-trips JSON values and ignores key insertion order", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = stableStringify(value);
      const reversed = JSON.parse(JSON.stringify(value), (_key, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
      ) as unknown;
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      return stableStringify(reversed) === text;
    }),
  );
});
