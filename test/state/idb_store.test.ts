import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IDBFactory, IDBObjectStore } from "fake-indexeddb";
import { StateError } from "../../src/errors.js";
import { fileSystemStore } from "../../src/state/fs_store.js";
import { manifestToJson, sealManifest, type StateManifest } from "../../src/state/format.js";
import { checkStateName, indexedDbStore } from "../../src/state/idb_store.js";
import type { StateStore } from "../../src/state/store.js";
import { freshStore, rawChange, rawRecords } from "../helpers/fake_idb.js";

const DB = "relearn-test";
const WEIGHTS = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);

/** Writes a small state: a model file, a binary file in a subfolder, data. */
function writeSample(store: StateStore, name: string, version = 1, options: { expectedPrevious?: string | null } = {}) {
  return store.write(name, {
    kind: "test-updater",
    write: async (files) => {
      await files.writeFile("model/model.json", `{"version":${version}}`);
      await files.writeFile("memory/x.bin", WEIGHTS);
      return { counters: { updates: version }, seed: 42 };
    },
    ...options,
  });
}

async function manifestText(factory: IDBFactory, name: string): Promise<string | undefined> {
  const records = (await rawRecords(factory, DB, "states")) as { name: string; manifest: string }[];
  return records.find((record) => record.name === name)?.manifest;
}

test("round trip: the state read back is the one written, every file verified and readable", async () => {
  const { store } = freshStore(DB);
  const written = await writeSample(store, "rd");
  const state = await store.read("rd", { kind: "test-updater" });
  assert.ok(state !== null);
  assert.equal(state.dir, "rd");
  assert.deepEqual(state.manifest, written);
  assert.deepEqual(state.data, { counters: { updates: 1 }, seed: 42 });
  assert.equal(state.files.location, `indexeddb://${DB}/rd`);
  assert.deepEqual(Object.keys(state.manifest.files).sort(), ["memory/x.bin", "model/model.json"]);
  assert.deepEqual(await state.files.readFile("memory/x.bin"), WEIGHTS);
  assert.equal(new TextDecoder().decode(await state.files.readFile("model/model.json")), '{"version":1}');
  assert.ok(state.files.has("model/model.json"));
  assert.ok(!state.files.has("manifest.json"));
  await assert.rejects(state.files.readFile("nope.bin"), (error: unknown) => error instanceof StateError && /nope\.bin is not a file/.test(error.message));
  // A caller editing what it read cannot change the next read.
  (await state.files.readFile("memory/x.bin")).fill(0);
  assert.deepEqual(await state.files.readFile("memory/x.bin"), WEIGHTS);
  assert.equal(await store.read("other"), null);
  assert.equal(await store.holdsState("rd"), true);
  assert.equal(await store.holdsState("other"), false);
});

test("the stored manifest.json text is byte-identical to what the file-system writer writes for the same files and data", async (t) => {
  const { store, factory } = freshStore(DB);
  await writeSample(store, "rd");
  const dir = await mkdtemp(join(tmpdir(), "relearn-idb-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The same callback, through the file-system store.
  await writeSample(fileSystemStore(), join(dir, "state"));
  assert.equal(await manifestText(factory, "rd"), await readFile(join(dir, "state", "manifest.json"), "utf8"));
});

test("a second write replaces the state whole: files of the previous state that the new one lacks are gone", async () => {
  const { store, factory } = freshStore(DB);
  await store.write("rd", {
    kind: "test-updater",
    write: async (files) => {
      await files.writeFile("old.bin", new Uint8Array([1]));
      await files.writeFile("model/model.json", "{}");
    },
  });
  await writeSample(store, "rd", 2);
  await writeSample(store, "other", 1);
  const state = await store.read("rd");
  assert.deepEqual(Object.keys(state!.manifest.files).sort(), ["memory/x.bin", "model/model.json"]);
  const paths = ((await rawRecords(factory, DB, "files")) as { name: string; path: string }[])
    .filter((record) => record.name === "rd")
    .map((record) => record.path)
    .sort();
  assert.deepEqual(paths, ["memory/x.bin", "model/model.json"]);
  assert.deepEqual(state!.data, { counters: { updates: 2 }, seed: 42 });
  assert.notEqual(await store.read("other"), null);
});

test("a write callback that throws midway, or a beforeCommit that throws, leaves the previous state untouched", async () => {
  const { store, factory } = freshStore(DB);
  const before = await writeSample(store, "rd");
  const recordsBefore = await rawRecords(factory, DB, "files");
  await assert.rejects(
    store.write("rd", {
      kind: "test-updater",
      write: async (files) => {
        await files.writeFile("model/model.json", "{}");
        throw new Error("disk on fire");
      },
    }),
    /disk on fire/,
  );
  assert.deepEqual((await store.read("rd"))!.manifest, before);
  let beforeCommitCalls = 0;
  await assert.rejects(
    store.write("rd", {
      kind: "test-updater",
      write: async (files) => files.writeFile("model/model.json", "{}"),
      beforeCommit: async () => {
        beforeCommitCalls += 1;
        throw new StateError("lock lost");
      },
    }),
    /lock lost/,
  );
  assert.equal(beforeCommitCalls, 1);
  assert.deepEqual((await store.read("rd"))!.manifest, before);
  assert.deepEqual(await rawRecords(factory, DB, "files"), recordsBefore);
  assert.equal(await manifestText(factory, "rd"), manifestToJson(before));
});

test("a connection closed in the middle of the commit transaction (a tab closed) leaves the previous state, not part of the new one", async (t) => {
  const { store, factory } = freshStore(DB);
  const before = await writeSample(store, "rd");
  const originalPut = IDBObjectStore.prototype.put;
  let puts = 0;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore["put"]>) {
    const request = originalPut.apply(this, args);
    // After the first file of the new state is put (and the old ones deleted), the "tab" goes away: a browser
    // aborts the unfinished transactions of a page that unloads.
    if (++puts === 1) this.transaction.abort();
    return request;
  } as IDBObjectStore["put"];
  t.after(() => {
    IDBObjectStore.prototype.put = originalPut;
  });
  await assert.rejects(writeSample(store, "rd", 2), (error: unknown) => error instanceof Error);
  IDBObjectStore.prototype.put = originalPut;
  assert.ok(puts >= 1);
  const state = await store.read("rd");
  assert.deepEqual(state!.manifest, before);
  assert.equal(await manifestText(factory, "rd"), manifestToJson(before));
});

test("compare-and-swap: a stale writer is refused and commits nothing; null means the name must hold no state", async () => {
  const { store } = freshStore(DB);
  await assert.rejects(writeSample(store, "rd", 1, { expectedPrevious: "a".repeat(64) }), /no longer holds the state/);
  assert.equal(await store.holdsState("rd"), false);
  const first = await writeSample(store, "rd", 1, { expectedPrevious: null });
  // Two tabs read the same state; the first to write wins, the second is refused.
  const winner = await writeSample(store, "rd", 2, { expectedPrevious: first.manifestSha256! });
  await assert.rejects(
    writeSample(store, "rd", 3, { expectedPrevious: first.manifestSha256! }),
    (error: unknown) =>
      error instanceof StateError &&
      error.message.includes(`indexeddb://${DB}/rd was updated by another tab or worker`) &&
      error.message.includes(winner.manifestSha256!) &&
      error.message.includes("nothing was written"),
  );
  await assert.rejects(writeSample(store, "rd", 4, { expectedPrevious: null }), /already holds a state/);
  assert.deepEqual((await store.read("rd"))!.manifest, winner);
  // Omitted: whatever is there is replaced.
  const last = await writeSample(store, "rd", 5);
  assert.deepEqual((await store.read("rd"))!.manifest, last);
});

test("two lock holders (in-process table, as in Node): the second fails at once saying another tab or worker updates it", async () => {
  const { store } = freshStore(DB);
  const lock = await store.lock("rd");
  await assert.rejects(
    store.lock("rd"),
    (error: unknown) => error instanceof StateError && /indexeddb:\/\/relearn-test\/rd is locked: another tab or worker/.test(error.message),
  );
  await assert.rejects(store.deleteState("rd"), /is locked/);
  const otherName = await store.lock("other");
  await lock.verify();
  await lock.release();
  await lock.release();
  const again = await store.lock("rd");
  await again.release();
  await otherName.release();
  // Another database (or another factory) has its own locks.
  const elsewhere = indexedDbStore({ indexedDB: new IDBFactory(), databaseName: DB });
  const a = await store.lock("rd");
  const b = await elsewhere.lock("rd");
  await a.release();
  await b.release();
});

/** A LockManager with Web Locks' `ifAvailable` and `steal` behaviour, for the code path pages and workers take. */
function fakeLockManager() {
  const held = new Map<string, (error: unknown) => void>();
  const manager = {
    async request(name: string, options: { ifAvailable?: boolean }, callback: (lock: { name: string } | null) => unknown) {
      if (held.has(name)) {
        assert.equal(options.ifAvailable, true);
        return callback(null);
      }
      let stolen!: (error: unknown) => void;
      const stealing = new Promise<never>((_, reject) => (stolen = reject));
      held.set(name, stolen);
      try {
        return await Promise.race([callback({ name }), stealing]);
      } finally {
        if (held.get(name) === stolen) held.delete(name);
      }
    },
    steal(name: string) {
      const stolen = held.get(name);
      held.delete(name);
      stolen?.(new Error("AbortError: the lock was stolen"));
    },
  };
  return manager;
}

test("Web Locks: a second holder is refused, release frees it, and a stolen lock fails verify", async () => {
  const locks = fakeLockManager();
  const store = indexedDbStore({ indexedDB: new IDBFactory(), databaseName: DB, locks: locks as unknown as LockManager });
  const lock = await store.lock("rd");
  await assert.rejects(store.lock("rd"), /another tab or worker is updating that state/);
  await lock.release();
  const second = await store.lock("rd");
  await second.verify();
  locks.steal(`relearn-state ${JSON.stringify([DB, "rd"])}`);
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(second.verify(), /lost the lock of indexeddb:\/\/relearn-test\/rd: another tab or worker took it over/);
  await second.release();
});

test("a damaged stored state is a StateError naming the record, never null or a fresh start", async (t) => {
  const where = `indexeddb://${DB}/rd`;
  const cases: [string, (factory: IDBFactory) => Promise<void>, RegExp][] = [
    [
      "a file's bytes edited",
      (factory) =>
        rawChange(factory, DB, "files", (files) => {
          files.put({ name: "rd", path: "memory/x.bin", bytes: WEIGHTS.map((v, i) => (i === 5 ? v ^ 1 : v)) });
        }),
      new RegExp(`^${where}/memory/x\\.bin: checksum mismatch`),
    ],
    [
      "a file truncated",
      (factory) => rawChange(factory, DB, "files", (files) => files.put({ name: "rd", path: "memory/x.bin", bytes: WEIGHTS.slice(1) })),
      new RegExp(`^${where}/memory/x\\.bin has 299 bytes but manifest\\.json lists 300`),
    ],
    [
      "the manifest edited",
      async (factory) => {
        const text = (await manifestText(factory, "rd"))!;
        await rawChange(factory, DB, "states", (states) => states.put({ name: "rd", manifest: text.replace('"seed": 42', '"seed": 43') }));
      },
      new RegExp(`^${where}/manifest\\.json: checksum mismatch`),
    ],
    [
      "an unlisted record added",
      (factory) => rawChange(factory, DB, "files", (files) => files.put({ name: "rd", path: "extra.bin", bytes: new Uint8Array(1) })),
      new RegExp(`^${where}/extra\\.bin is not listed in ${where}/manifest\\.json`),
    ],
    [
      "a listed record deleted",
      (factory) => rawChange(factory, DB, "files", (files) => files.delete(["rd", "model/model.json"])),
      new RegExp(`^${where}/model/model\\.json is missing \\(listed in manifest\\.json\\)`),
    ],
    [
      "the manifest record deleted",
      (factory) => rawChange(factory, DB, "states", (states) => states.delete("rd")),
      new RegExp(`^${where}/manifest\\.json is missing but 2 file record\\(s\\)`),
    ],
    [
      "a file record whose bytes are not bytes",
      (factory) => rawChange(factory, DB, "files", (files) => files.put({ name: "rd", path: "memory/x.bin", bytes: "text" })),
      new RegExp(`^${where}/memory/x\\.bin is not a file record`),
    ],
    [
      "a manifest record without text",
      (factory) => rawChange(factory, DB, "states", (states) => states.put({ name: "rd", manifest: 3 })),
      new RegExp(`^${where}/manifest\\.json is not a manifest record`),
    ],
  ];
  for (const [what, damage, expected] of cases) {
    await t.test(what, async () => {
      const { store, factory } = freshStore(DB);
      await writeSample(store, "rd");
      await writeSample(store, "intact");
      await damage(factory);
      await assert.rejects(store.read("rd"), (error: unknown) => error instanceof StateError && expected.test(error.message));
      assert.notEqual(await store.read("intact"), null);
    });
  }
});

test("read checks the kind", async () => {
  const { store } = freshStore(DB);
  await writeSample(store, "rd");
  await assert.rejects(store.read("rd", { kind: "joint" }), /manifest\.json is a state of kind "test-updater", but a "joint" state was expected/);
});

test("state names: which are refused, with the reason", async () => {
  const { store } = freshStore(DB);
  for (const [name, reason] of [
    ["", "is empty"],
    [" rd", "starts or ends with whitespace"],
    ["rd\n", "starts or ends with whitespace"],
    ["r\u0000d", "contains a control character"],
    ["r\ud800d", "contains a lone UTF-16 surrogate"],
  ] as const) {
    assert.equal(checkStateName(name), reason);
    await assert.rejects(store.read(name), (error: unknown) => error instanceof StateError && error.message.includes(`the name ${reason}`));
    await assert.rejects(writeSample(store, name), StateError);
    await assert.rejects(store.lock(name), StateError);
  }
  for (const name of ["rd", "states/rd", "状態 1", "a\u{1F600}"]) {
    assert.equal(checkStateName(name), undefined);
    assert.equal(await store.resolve(name), name);
  }
  await writeSample(store, "states/rd");
  assert.notEqual(await store.read("states/rd"), null);
});

test("the writer refuses bad paths, a file written twice, and a path that is both a file and a folder", async () => {
  const { store } = freshStore(DB);
  const attempt = (write: (files: Parameters<Parameters<StateStore["write"]>[1]["write"]>[0]) => Promise<void>) =>
    store.write("rd", { kind: "test-updater", write });
  await assert.rejects(attempt((f) => f.writeFile("../x", "a")), /cannot write "\.\.\/x" into indexeddb:\/\/relearn-test\/rd: the path has an empty/);
  await assert.rejects(attempt((f) => f.writeFile("manifest.json", "a")), /is the manifest itself/);
  await assert.rejects(attempt((f) => f.writeFile("/abs", "a")), /is absolute/);
  await assert.rejects(attempt((f) => f.writeFile("__proto__", "a")), /the path is "__proto__", which manifest\.json cannot list/);
  await assert.rejects(attempt(async (f) => { await f.writeFile("a.bin", "1"); await f.writeFile("a.bin", "2"); }), /a\.bin was written twice/);
  await assert.rejects(attempt(async (f) => { await f.writeFile("a", "1"); await f.writeFile("a/b", "2"); }), /a is a file of the state, so it cannot also be a folder/);
  await assert.rejects(attempt(async (f) => { await f.writeFile("a/b", "1"); await f.writeFile("a", "2"); }), /cannot be a file: other files of the state are inside it/);
  let late: Promise<unknown> | undefined;
  await store.write("rd", {
    kind: "test-updater",
    write: async (f) => {
      late = new Promise((resolve) => setImmediate(resolve)).then(() => f.writeFile("late.bin", "x")).catch((error: unknown) => error);
    },
  });
  assert.match(String(await late), /the write of this state has finished/);
  await assert.rejects(
    store.write("rd", {
      kind: "test-updater",
      write: async (f) => {
        void f.writeFile("unawaited.bin", new Uint8Array(10));
      },
    }),
    /rd\/unawaited\.bin: writeFile had not finished when the write callback returned \(a missing await\?\); nothing was written/,
  );
  await assert.rejects(store.write("rd", { kind: "", write: async () => undefined }), /kind must be a non-empty string/);
  await assert.rejects(
    store.write("rd", { kind: "k", write: async () => ({ bad: Number.NaN }) }),
    /data\.bad = NaN cannot be stored in JSON/,
  );
  assert.equal(await store.holdsState("rd"), true);
  assert.deepEqual((await store.read("rd"))!.manifest.files, {});
});

test("listStates and deleteState", async () => {
  const { store, factory } = freshStore(DB);
  assert.deepEqual(await store.listStates(), []);
  await writeSample(store, "b");
  await writeSample(store, "a");
  await rawChange(factory, DB, "files", (files) => files.put({ name: "orphan", path: "x.bin", bytes: new Uint8Array(4) }));
  const listed = await store.listStates();
  assert.deepEqual(listed.map((s) => [s.name, s.kind, s.files]), [["a", "test-updater", 2], ["b", "test-updater", 2], ["orphan", undefined, 1]]);
  assert.equal(listed[0]!.bytes, 300 + '{"version":1}'.length + (await manifestText(factory, "a"))!.length);
  assert.equal(await store.deleteState("a"), true);
  assert.equal(await store.deleteState("a"), false);
  assert.equal(await store.deleteState("orphan"), true);
  assert.equal(await store.read("a"), null);
  assert.deepEqual((await store.listStates()).map((s) => s.name), ["b"]);
  assert.equal((await rawRecords(factory, DB, "files")).length, 2);
});

test("no IndexedDB, a database of a newer relearn, or someone else's database: a StateError saying what to do", async () => {
  const none = indexedDbStore({ databaseName: DB });
  await assert.rejects(none.read("rd"), /IndexedDB is not available here.*pass indexedDbStore\(\{ indexedDB \}\)/);
  await assert.rejects(none.checkWritable("rd"), /cannot write indexeddb:\/\/relearn-test\/rd: IndexedDB is not available/);

  const factory = new IDBFactory();
  await new Promise<void>((resolve, reject) => {
    const request = factory.open("newer", 7);
    request.onupgradeneeded = () => request.result.createObjectStore("states");
    request.onsuccess = () => (request.result.close(), resolve());
    request.onerror = () => reject(request.error);
  });
  await assert.rejects(indexedDbStore({ indexedDB: factory, databaseName: "newer" }).read("rd"), /was written by a newer relearn/);

  await new Promise<void>((resolve, reject) => {
    const request = factory.open("foreign", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("things");
    request.onsuccess = () => (request.result.close(), resolve());
    request.onerror = () => reject(request.error);
  });
  await assert.rejects(indexedDbStore({ indexedDB: factory, databaseName: "foreign" }).read("rd"), /is not relearn's \(it has no "states" object store\)/);
  assert.throws(() => indexedDbStore({ databaseName: "" }), /databaseName must be a non-empty string/);
});

test("a manifest sealed by hand with an unsafe path is refused on read (the manifest is untrusted input)", async () => {
  const { store, factory } = freshStore(DB);
  await writeSample(store, "rd");
  const manifest = JSON.parse((await manifestText(factory, "rd"))!) as StateManifest;
  manifest.files["../escape.bin"] = manifest.files["memory/x.bin"]!;
  const sealed = await sealManifest(manifest);
  await rawChange(factory, DB, "states", (states) => states.put({ name: "rd", manifest: manifestToJson(sealed) }));
  await assert.rejects(store.read("rd"), /lists the file "\.\.\/escape\.bin", whose path has an empty, '\.' or '\.\.' segment/);
});
