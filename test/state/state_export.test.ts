import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Zip, ZipPassThrough, unzipSync, zipSync, type Zippable } from "fflate";
import { StateError } from "../../src/errors.js";
import { manifestToJson, sealManifest, type StateManifest } from "../../src/state/format.js";
import { readStateFolder } from "../../src/state/read_state.js";
import { exportState, importState } from "../../src/state/state_export.js";
import type { StateStore } from "../../src/state/store.js";
import { freshStore, rawChange, rawRecords } from "../helpers/fake_idb.js";

const WEIGHTS = Uint8Array.from({ length: 2000 }, (_, i) => (i * 31) % 251);

function writeSample(store: StateStore, name: string, version = 1) {
  return store.write(name, {
    kind: "test-updater",
    write: async (files) => {
      await files.writeFile("model/model.json", `{"version":${version}}`);
      await files.writeFile("memory/x.bin", WEIGHTS);
      await files.writeFile("counters.json", "{}\n");
      return { counters: { updates: version }, seed: 42 };
    },
  });
}

async function storedManifestText(store: ReturnType<typeof freshStore>, name: string): Promise<string | undefined> {
  const records = (await rawRecords(store.factory, store.store.databaseName, "states")) as { name: string; manifest: string }[];
  return records.find((record) => record.name === name)?.manifest;
}

/** The archive's entries (name -> bytes), through fflate directly. */
function entriesOf(archive: Uint8Array): Record<string, Uint8Array> {
  return unzipSync(archive);
}

/** An archive of `entries` built by a generic zip tool (fflate's zipSync), as a person might make by hand. */
function zipOf(entries: Zippable): Uint8Array {
  return zipSync(entries, { mtime: new Date(1980, 0, 1) });
}

/** Sets the uncompressed size the central directory declares for `name` (what a crafted archive would lie about). */
function patchDeclaredSize(archive: Uint8Array, name: string, size: number): Uint8Array {
  const out = archive.slice();
  const view = new DataView(out.buffer);
  const encoded = new TextEncoder().encode(name);
  for (let at = 0; at + 46 <= out.length; at++) {
    if (view.getUint32(at, true) !== 0x02014b50) continue;
    const nameLength = view.getUint16(at + 28, true);
    const found = out.subarray(at + 46, at + 46 + nameLength);
    if (nameLength === encoded.length && found.every((byte, i) => byte === encoded[i])) {
      view.setUint32(at + 24, size, true);
      return out;
    }
  }
  throw new Error(`no central directory entry ${name}`);
}

async function exported(): Promise<{ archive: Uint8Array; manifest: StateManifest }> {
  const { store } = freshStore();
  const manifest = await writeSample(store, "rd");
  return { archive: await exportState(store, "rd"), manifest };
}

function refusedWith(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof StateError, `expected a StateError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

test("export -> import into another database: identical manifest text and files, and the same archive again", async () => {
  const source = freshStore("source-db");
  const written = await writeSample(source.store, "rd");
  const archive = await exportState(source.store, "rd");
  const target = freshStore("target-db");
  const imported = await importState(target.store, "copy", archive, { source: "rd.zip" });
  assert.deepEqual(imported, written);
  assert.equal(await storedManifestText(target, "copy"), await storedManifestText(source, "rd"));
  const state = await target.store.read("copy", { kind: "test-updater" });
  for (const path of Object.keys(written.files)) {
    assert.deepEqual(await state!.files.readFile(path), await (await source.store.read("rd"))!.files.readFile(path));
  }
  assert.deepEqual(await exportState(target.store, "copy"), archive);
  // The archive holds exactly manifest.json and the files, at their paths.
  const entries = entriesOf(archive);
  assert.deepEqual(Object.keys(entries), ["manifest.json", "counters.json", "memory/x.bin", "model/model.json"]);
  assert.equal(new TextDecoder().decode(entries["manifest.json"]), manifestToJson(written));
  assert.deepEqual(entries["memory/x.bin"], WEIGHTS);
});

test("the same state exports to identical bytes, whatever the time zone", async () => {
  const { store } = freshStore();
  await writeSample(store, "rd");
  const zone = process.env.TZ;
  let utc: Uint8Array;
  try {
    process.env.TZ = "UTC";
    utc = await exportState(store, "rd");
    process.env.TZ = "Pacific/Kiritimati";
    const far = await exportState(store, "rd");
    process.env.TZ = "America/St_Johns";
    const other = await exportState(store, "rd");
    assert.deepEqual(far, utc);
    assert.deepEqual(other, utc);
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
  // A different state gives a different archive.
  await writeSample(store, "rd", 2);
  assert.notDeepEqual(await exportState(store, "rd"), utc);
});

test("exporting a state that is not there, or is damaged, is a StateError", async () => {
  const { store, factory } = freshStore();
  await assert.rejects(exportState(store, "nothing"), refusedWith(/there is no state to export at nothing/));
  await writeSample(store, "rd");
  await rawChange(factory, store.databaseName, "files", (files) => files.put({ name: "rd", path: "memory/x.bin", bytes: WEIGHTS.map((v) => v ^ 1) }));
  await assert.rejects(exportState(store, "rd"), refusedWith(/^indexeddb:\/\/relearn-test\/rd\/memory\/x\.bin: checksum mismatch/));
});

test("unzip of an export gives a state folder the file-system reader accepts", async (t) => {
  const { archive, manifest } = await exported();
  const dir = await mkdtemp(join(tmpdir(), "relearn-export-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "rd.zip"), archive);
  execFileSync("unzip", ["-q", join(dir, "rd.zip"), "-d", join(dir, "state")]);
  const state = await readStateFolder(join(dir, "state"), { kind: "test-updater" });
  assert.deepEqual(state!.manifest, manifest);
});

test("a tampered or foreign archive is refused, naming the entry, and nothing is stored", async (t) => {
  const { archive, manifest } = await exported();
  const entries = entriesOf(archive);
  const flipped = entries["memory/x.bin"]!.slice();
  flipped[10]! ^= 1;
  const editedManifest = new TextEncoder().encode(manifestToJson(manifest).replace('"seed": 42', '"seed": 41'));
  const hugeManifest = await sealManifest({ ...manifest, files: { ...manifest.files, "memory/x.bin": { ...manifest.files["memory/x.bin"]!, bytes: 4_000_000_000 } } });
  const protoFiles = JSON.parse(`{"__proto__": ${JSON.stringify(manifest.files["counters.json"])}}`) as StateManifest["files"];
  const protoManifest = await sealManifest({ ...manifest, files: { ...manifest.files, ...protoFiles } });
  const protoArchive = (() => {
    const chunks: Uint8Array[] = [];
    const zip = new Zip((_, chunk) => chunks.push(chunk));
    for (const [name, bytes] of [...Object.entries(entries), ["manifest.json", new TextEncoder().encode(manifestToJson(protoManifest))], ["__proto__", entries["counters.json"]!]] as const) {
      if (name === "manifest.json" && bytes === entries["manifest.json"]) continue;
      const file = new ZipPassThrough(name);
      zip.add(file);
      file.push(bytes, true);
    }
    zip.end();
    return Uint8Array.from(chunks.flatMap((chunk) => [...chunk]));
  })();
  const duplicated = (() => {
    const chunks: Uint8Array[] = [];
    const zip = new Zip((_, chunk) => chunks.push(chunk));
    for (const [name, bytes] of [...Object.entries(entries), ["memory/x.bin", flipped] as const]) {
      const file = new ZipPassThrough(name);
      zip.add(file);
      file.push(bytes, true);
    }
    zip.end();
    return Uint8Array.from(chunks.flatMap((chunk) => [...chunk]));
  })();
  const cases: [string, Uint8Array, RegExp][] = [
    ["a file's bytes changed", zipOf({ ...entries, "memory/x.bin": flipped }), /^t\.zip: entry "memory\/x\.bin": checksum mismatch/],
    ["a file truncated (its declared size too)", zipOf({ ...entries, "memory/x.bin": WEIGHTS.slice(1) }), /^t\.zip: entry "memory\/x\.bin" declares 1999 bytes but manifest\.json lists 2000/],
    ["an unlisted entry added", zipOf({ ...entries, "extra.bin": new Uint8Array(3) }), /^t\.zip: entry "extra\.bin" is not listed in manifest\.json/],
    ["an entry escaping the folder", zipOf({ ...entries, "../escape.bin": new Uint8Array(3) }), /^t\.zip: entry "\.\.\/escape\.bin" is not listed/],
    ["an absolute entry", zipOf({ ...entries, "/etc/x": new Uint8Array(3) }), /^t\.zip: entry "\/etc\/x" is not listed/],
    ["a listed entry missing", zipOf({ "manifest.json": entries["manifest.json"]!, "memory/x.bin": WEIGHTS, "counters.json": entries["counters.json"]! }), /^t\.zip: entry "model\/model\.json" is missing \(listed in manifest\.json\)/],
    ["the manifest edited", zipOf({ ...entries, "manifest.json": editedManifest }), /^t\.zip: entry "manifest\.json": checksum mismatch: the manifest was modified/],
    ["no manifest", zipOf({ "memory/x.bin": WEIGHTS }), /^t\.zip has no manifest\.json at its root/],
    ["the folder zipped instead of its contents", zipOf({ state: entries }), /it has state\/manifest\.json: zip the state folder's contents, not the folder itself/],
    ["a declared size larger than the manifest's (a bomb)", patchDeclaredSize(archive, "memory/x.bin", 3_000_000), /^t\.zip: entry "memory\/x\.bin" declares 3000000 bytes but manifest\.json lists 2000: .*refusing to inflate it/],
    [
      "a manifest listing a huge file, declared by the entry too (a bomb)",
      patchDeclaredSize(zipOf({ ...entries, "manifest.json": new TextEncoder().encode(manifestToJson(hugeManifest)) }), "memory/x.bin", 4_000_000_000),
      /^t\.zip: entry "memory\/x\.bin" declares 4000000000 bytes, more than \d+ compressed bytes can hold/,
    ],
    ["a huge manifest", patchDeclaredSize(archive, "manifest.json", 100_000_000), /^t\.zip: entry "manifest\.json" declares 100000000 bytes, more than the 67108864 a manifest may have/],
    ["a manifest listing \"__proto__\"", protoArchive, /^t\.zip: entry "manifest\.json": checksum mismatch/],
    ["an entry twice", duplicated, /^t\.zip has the entry "memory\/x\.bin" more than once/],
    ["not a zip", new TextEncoder().encode("hello, not a zip"), /^t\.zip is not a readable zip archive/],
  ];
  for (const [what, bytes, expected] of cases) {
    await t.test(what, async () => {
      const target = freshStore();
      await assert.rejects(importState(target.store, "rd", bytes, { source: "t.zip" }), refusedWith(expected));
      assert.equal(await target.store.holdsState("rd"), false);
    });
  }
  await t.test("flipped bits in the compressed data", async () => {
    const damaged = archive.slice();
    // The last entry's data sits before the central directory; damage the middle of the archive.
    for (let i = 200; i < 220; i++) damaged[i]! ^= 0xff;
    const target = freshStore();
    await assert.rejects(importState(target.store, "rd", damaged, { source: "t.zip" }), StateError);
    assert.equal(await target.store.holdsState("rd"), false);
  });
});

test("an archive made by a generic zip tool (with folder entries, stored or deflated) imports", async () => {
  const { archive, manifest } = await exported();
  const entries = entriesOf(archive);
  const nested: Zippable = {
    "manifest.json": entries["manifest.json"]!,
    "counters.json": [entries["counters.json"]!, { level: 0 }],
    memory: { "x.bin": entries["memory/x.bin"]! },
    model: { "model.json": entries["model/model.json"]! },
  };
  const generic = zipOf(nested);
  assert.ok(Object.keys(unzipSync(generic)).includes("memory/"));
  const target = freshStore();
  assert.deepEqual(await importState(target.store, "rd", generic), manifest);
});

test("import refuses to replace a state unless told to, respects the lock, and checks the kind", async () => {
  const { archive, manifest } = await exported();
  const target = freshStore();
  const previous = await writeSample(target.store, "rd", 7);
  await assert.rejects(importState(target.store, "rd", archive), refusedWith(/rd already holds a state: importing would replace it/));
  assert.deepEqual((await target.store.read("rd"))!.manifest, previous);
  const lock = await target.store.lock("rd");
  await assert.rejects(importState(target.store, "rd", archive, { overwrite: true }), refusedWith(/is locked: another tab or worker/));
  await lock.release();
  await assert.rejects(importState(target.store, "rd", archive, { overwrite: true, kind: "joint" }), refusedWith(/a "joint" state was expected/));
  assert.deepEqual(await importState(target.store, "rd", archive, { overwrite: true }), manifest);
  assert.deepEqual((await target.store.read("rd"))!.manifest, manifest);
  // The lock is released after an import.
  await (await target.store.lock("rd")).release();
});

/** Random valid state file sets: paths of 1-3 safe segments, no path both a file and a folder. */
const fileSets = fc
  .uniqueArray(
    fc.tuple(
      fc.array(fc.stringMatching(/^[a-z0-9_-][a-z0-9._-]{0,7}$/).filter((s) => s !== "." && s !== ".." && s !== "__proto__"), { minLength: 1, maxLength: 3 }),
      fc.uint8Array({ maxLength: 3000 }),
    ),
    { selector: ([segments]) => segments.join("/"), maxLength: 8 },
  )
  .map((files) => files.map(([segments, bytes]) => [segments.join("/"), bytes] as const))
  .filter((files) => {
    const paths = new Set(files.map(([path]) => path));
    return !paths.has("manifest.json") && files.every(([path]) => !files.some(([other]) => other.startsWith(`${path}/`)));
  });

test("property: any state exports, imports into another database with the identical manifest and files, and exports to the same bytes", async () => {
  await fc.assert(
    fc.asyncProperty(fileSets, fc.jsonValue({ maxDepth: 2 }), async (files, data) => {
      const source = freshStore("a");
      const written = await source.store.write("s", {
        kind: "prop",
        write: async (writer) => {
          for (const [path, bytes] of files) await writer.writeFile(path, bytes);
          return data;
        },
      });
      const archive = await exportState(source.store, "s");
      const target = freshStore("b");
      const imported = await importState(target.store, "t", archive);
      assert.equal(manifestToJson(imported), manifestToJson(written));
      assert.equal(await storedManifestText(target, "t"), await storedManifestText(source, "s"));
      const state = await target.store.read("t", { kind: "prop" });
      for (const [path, bytes] of files) assert.deepEqual(await state!.files.readFile(path), bytes);
      assert.deepEqual(await exportState(target.store, "t"), archive);
    }),
    { numRuns: 40 },
  );
});

test("files that fflate's streaming DEFLATE mis-compresses (repeating int32 labels) export to an archive unzip and importState read intact", async (t) => {
  // A class-balanced memory of an ordered stream: labels 0,1,2,3,4,0,1,... as int32 (tester's repro: 200 items).
  const labelRuns = [200, 500, 1000].map((n) => new Uint8Array(Int32Array.from({ length: n }, (_, i) => i % 5).buffer));
  const { store } = freshStore();
  await store.write("rd", {
    kind: "test-updater",
    write: async (files) => {
      for (const [i, bytes] of labelRuns.entries()) await files.writeFile(`memory/y${i}.bin`, bytes);
      return {};
    },
  });
  const archive = await exportState(store, "rd");
  const dir = await mkdtemp(join(tmpdir(), "relearn-export-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "rd.zip"), archive);
  execFileSync("unzip", ["-tq", join(dir, "rd.zip")]); // throws on a bad CRC or an invalid distance
  const other = freshStore().store;
  await importState(other, "rd", archive);
  const back = await other.read("rd");
  for (const [i, bytes] of labelRuns.entries()) assert.deepEqual(await back!.files.readFile(`memory/y${i}.bin`), bytes);
});

test("importState takes an ArrayBuffer as it is (what file.arrayBuffer() gives) and refuses anything else naming the type", async () => {
  const { archive } = await exported();
  const other = freshStore().store;
  const copy = archive.slice();
  await importState(other, "rd", copy.buffer);
  assert.deepEqual(await exportState(other, "rd"), archive);
  await assert.rejects(importState(other, "x", "not bytes" as unknown as Uint8Array), refusedWith(/must be the archive's bytes \(a Uint8Array or an ArrayBuffer\), got \[object String\]/));
});
