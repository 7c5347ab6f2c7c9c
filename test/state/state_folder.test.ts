import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";
import { z } from "zod";
import { StateError } from "../../src/errors.js";
import { recoverInterruptedSwap, writeStateFolder, writerTag } from "../../src/state/atomic_folder.js";
import { currentProcess } from "../../src/state/process_identity.js";
import { readColumn, writeColumn, writeJson, readJson, columnDescriptorSchema } from "../../src/state/columns_io.js";
import { folderWriter } from "../../src/state/folder_files.js";
import { STATE_FORMAT_VERSION, manifestToJson, sealManifest, type StateManifest } from "../../src/state/format.js";
import { readStateFolder } from "../../src/state/read_state.js";

const MODEL_JSON = '{"modelTopology":{"layers":[]}}';

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "relearn-state-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a small but complete state: a model file, a column in a subfolder, a JSON file. */
async function writeSample(outDir: string, data: unknown = { counters: { updates: 2, seen: 7 }, seed: 42 }) {
  return writeStateFolder(outDir, {
    kind: "test-updater",
    data,
    write: async (tmp) => {
      await writeFile(join(tmp, "model.json"), MODEL_JSON);
      await writeColumn(folderWriter(tmp), "memory", "x", Float32Array.from([0.5, -1.25, 3]));
      await writeJson(folderWriter(tmp), "counters", { b: 2, a: 1 });
    },
  });
}

/** Every file under `root` (relative path -> bytes), folders included as markers. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out.set(relative(root, path), entry.isFile() ? (await readFile(path)).toString("base64") : "<folder>");
  }
  return out;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

test("round trip: what was written is read back, with a manifest listing every file", async (t) => {
  const out = join(await scratch(t), "state");
  const written = await writeSample(out);
  const state = await readStateFolder(out, { kind: "test-updater" });
  assert.ok(state !== null);
  assert.equal(state.dir, out);
  assert.deepEqual(state.manifest, written);
  assert.equal(state.manifest.formatVersion, STATE_FORMAT_VERSION);
  assert.equal(state.manifest.library.name, "relearn");
  assert.deepEqual(Object.keys(state.manifest.files), ["counters.json", "memory/x.bin", "model.json"]);
  assert.deepEqual(state.manifest.files["model.json"], { sha256: sha256(MODEL_JSON), bytes: MODEL_JSON.length });
  assert.deepEqual(state.manifest.files["memory/x.bin"]?.bytes, 12);
  assert.deepEqual(state.data, { counters: { seen: 7, updates: 2 }, seed: 42 });
  const x = await readColumn(state.files, "", { file: "memory/x.bin", dtype: "float32", length: 3 }, { dtype: "float32" });
  assert.deepEqual(Array.from(x), [0.5, -1.25, 3]);
  assert.deepEqual(await readJson(state.files, "counters"), { a: 1, b: 2 });
  // Top-level keys in schema order, nested keys sorted.
  const text = await readFile(join(out, "manifest.json"), "utf8");
  assert.deepEqual(Object.keys(JSON.parse(text)), ["formatVersion", "library", "kind", "files", "data", "manifestSha256"]);
  const { manifestSha256, ...content } = JSON.parse(text) as StateManifest;
  assert.equal(manifestSha256, sha256(manifestToJson(content)), "the checksum of the manifest's text without the checksum");
  assert.ok(text.indexOf('"seed"') > text.indexOf('"counters"'));
  assert.deepEqual(await readdir(join(out, "..")), ["state"], "no tmp or old sibling is left behind");
});

test("a data schema parses data and names the field that does not fit", async (t) => {
  const out = join(await scratch(t), "state");
  await writeSample(out);
  const schema = z.object({ seed: z.number(), counters: z.object({ updates: z.number(), seen: z.number() }) });
  const state = await readStateFolder(out, { dataSchema: schema });
  assert.equal(state?.data.counters.seen, 7);
  await assert.rejects(readStateFolder(out, { dataSchema: z.object({ seed: z.string() }) }), {
    name: "StateError",
    message: /manifest\.json: field "data\.seed": .*expected string/,
  });
});

test("the same content gives a byte-identical manifest.json, whatever the key insertion order", async (t) => {
  const root = await scratch(t);
  await writeSample(join(root, "a"), { seed: 1, counters: { updates: 3, seen: 9 } });
  await writeSample(join(root, "b"), { counters: { seen: 9, updates: 3 }, seed: 1 });
  const first = await readFile(join(root, "a", "manifest.json"));
  assert.deepEqual(await readFile(join(root, "b", "manifest.json")), first);
  await writeSample(join(root, "a"), { seed: 1, counters: { updates: 3, seen: 9 } });
  assert.deepEqual(await readFile(join(root, "a", "manifest.json")), first);
});

test("a missing folder is no state (null); an empty folder is an error, not a fresh start", async (t) => {
  const root = await scratch(t);
  assert.equal(await readStateFolder(join(root, "nothing-here")), null);
  assert.equal(await readStateFolder(join(root, "no", "parent", "either")), null);
  await mkdir(join(root, "empty"));
  await assert.rejects(readStateFolder(join(root, "empty")), { name: "StateError", message: /empty is an empty folder, not a state folder/ });
});

test("a file or folder the manifest does not list is an error naming it", async (t) => {
  const extras: [string, (dir: string) => Promise<unknown>][] = [
    [".DS_Store", (d) => writeFile(join(d, ".DS_Store"), "junk")],
    ["memory/y.bin", (d) => writeFile(join(d, "memory", "y.bin"), "")],
    ["notes", (d) => mkdir(join(d, "notes"))],
    ["memory/deeper", (d) => mkdir(join(d, "memory", "deeper"))],
  ];
  for (const [name, add] of extras) {
    const out = join(await scratch(t), "state");
    await writeSample(out);
    await add(out);
    await assert.rejects(readStateFolder(out), {
      name: "StateError",
      message: new RegExp(`state/${name.replace(".", "\\.")} is not listed in .*manifest\\.json`),
    });
  }
});

test("a format-1 state (written before manifests had their own checksum) is still read", async (t) => {
  const out = join(await scratch(t), "state");
  await writeSample(out);
  const content = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as StateManifest;
  delete content.manifestSha256;
  await writeFile(join(out, "manifest.json"), manifestToJson({ ...content, formatVersion: 1 }));
  assert.deepEqual((await readStateFolder(out))?.data, { counters: { seen: 7, updates: 2 }, seed: 42 });
  // a format-2 field in a format-1 manifest is no format 1
  await editManifest(out, (m) => ({ ...m, formatVersion: 1, manifestSha256: "0".repeat(64) }), { reseal: false });
  await assert.rejects(readStateFolder(out), { name: "StateError", message: /manifest\.json is not a valid state manifest/ });
});

test("any one edited byte of manifest.json is an error naming manifest.json", async (t) => {
  const out = join(await scratch(t), "state");
  await writeSample(out);
  const path = join(out, "manifest.json");
  const original = await readFile(path);
  for (let i = 0; i < original.length; i++) {
    const edited = Buffer.from(original);
    // a digit becomes another digit (a counter 300 -> 700), anything else another printable character
    const c = edited[i]!;
    edited[i] = c >= 0x30 && c <= 0x39 ? 0x30 + ((c - 0x30 + 4) % 10) : c === 0x20 ? 0x09 : c === 0x61 ? 0x62 : 0x61;
    await writeFile(path, edited);
    await assert.rejects(readStateFolder(out), (error: unknown) => {
      assert.ok(error instanceof StateError, `byte ${i}: ${String(error)}`);
      assert.match(error.message, /manifest\.json/, `byte ${i}`);
      return true;
    });
  }
  await writeFile(path, original);
  assert.ok(await readStateFolder(out));
  // an edit that keeps the JSON identical but changes its bytes (spacing, key order) is caught too
  await writeFile(path, JSON.stringify(JSON.parse(original.toString("utf8")), null, 2) + " \n");
  await assert.rejects(readStateFolder(out), { name: "StateError", message: /manifest\.json was modified: its bytes are not the canonical text/ });
  await editManifest(out, (m) => ({ ...m, data: { counters: { seen: 700, updates: 2 }, seed: 42 } }), { reseal: false });
  await assert.rejects(readStateFolder(out), { name: "StateError", message: /manifest\.json: checksum mismatch: the manifest was modified/ });
});

/** Each corruption, applied to a fresh sample state, and the message it must give. */
const corruptions: [string, (dir: string) => Promise<void>, RegExp][] = [
  ["truncated file", (d) => truncate(join(d, "model.json"), 5), /model\.json has 5 bytes but manifest\.json lists 31: checksum mismatch: the file was modified or truncated/],
  ["flipped byte", (d) => flipByte(join(d, "memory", "x.bin"), 2), /x\.bin: checksum mismatch: the file was modified or truncated/],
  ["deleted file", (d) => unlink(join(d, "counters.json")), /counters\.json is missing \(listed in manifest\.json\)/],
  ["deleted manifest", (d) => unlink(join(d, "manifest.json")), /manifest\.json is missing: .* is not a relearn state folder/],
  ["garbage manifest", (d) => writeFile(join(d, "manifest.json"), "{ not json"), /manifest\.json is not valid JSON/],
  ["wrong version", (d) => editManifest(d, (m) => ({ ...m, formatVersion: 3 })), /manifest\.json has formatVersion 3, but this relearn .* reads formatVersion 1 and 2 only/],
  ["schema: library name", (d) => editManifest(d, (m) => ({ ...m, library: { name: "other", version: "1" } })), /manifest\.json is not a valid state manifest: field "library\.name"/],
  ["schema: bad sha256", (d) => editManifest(d, (m) => ({ ...m, files: { "model.json": { sha256: "xyz", bytes: 31 } } })), /field "files\.model\.json\.sha256": expected 64 lowercase hex digits/],
  ["schema: no data", (d) => editManifest(d, ({ data: _data, ...m }) => m, { reseal: false }), /field "data": is missing/],
  ["path escaping the folder", (d) => editManifest(d, (m) => ({ ...m, files: { "../secret": { sha256: "0".repeat(64), bytes: 1 } } })), /lists the file "\.\.\/secret", whose path has an empty, '\.' or '\.\.' segment/],
  ["listed folder", (d) => editManifest(d, (m) => ({ ...m, files: { ...(m["files"] as object), memory: { sha256: "0".repeat(64), bytes: 1 } } })), /memory is not a regular file/],
];

for (const [name, corrupt, message] of corruptions) {
  test(`corruption gives a StateError naming the file: ${name}`, async (t) => {
    const out = join(await scratch(t), "state");
    await writeSample(out);
    await corrupt(out);
    await assert.rejects(readStateFolder(out), (error: unknown) => {
      assert.ok(error instanceof StateError, `expected a StateError, got ${String(error)}`);
      assert.match(error.message, message);
      return true;
    });
  });
}

test("a state of another kind, or a path that is not a folder, is a StateError", async (t) => {
  const root = await scratch(t);
  await writeSample(join(root, "state"));
  await assert.rejects(readStateFolder(join(root, "state"), { kind: "joint" }), {
    name: "StateError",
    message: /is a state of kind "test-updater", but a "joint" state was expected/,
  });
  await writeFile(join(root, "file"), "x");
  await assert.rejects(readStateFolder(join(root, "file")), { name: "StateError", message: /file exists but is not a folder/ });
  await assert.rejects(readStateFolder(join(root, "file", "sub")), { name: "StateError", message: /parent paths is a file/ });
});

test("a write callback that throws leaves outDir byte for byte as it was, and no tmp folder", async (t) => {
  const root = await scratch(t);
  const out = join(root, "state");
  await writeSample(out);
  const before = await snapshot(root);
  const failure = new Error("disk full (simulated)");
  await assert.rejects(
    writeStateFolder(out, {
      kind: "test-updater",
      data: { other: true },
      write: async (tmp) => {
        await writeFile(join(tmp, "model.json"), "half a mod");
        throw failure;
      },
    }),
    (error) => error === failure,
  );
  assert.deepEqual(await snapshot(root), before);
});

test("bad folder content or data fails without touching outDir", async (t) => {
  const root = await scratch(t);
  const out = join(root, "state");
  await writeSample(out);
  const before = await snapshot(root);
  const attempts: [(tmp: string) => Promise<void>, unknown, RegExp][] = [
    [(tmp) => writeFile(join(tmp, "manifest.json"), "{}"), {}, /manifest\.json is reserved/],
    [(tmp) => symlink("/etc/hostname", join(tmp, "link")), {}, /link, which is not a regular file or folder/],
    [async () => undefined, { loss: Number.NaN }, /data\.loss = NaN cannot be stored in JSON/],
    [async () => undefined, { x: new Float32Array(2) }, /data\.x is a Float32Array: store it with writeColumn/],
  ];
  for (const [write, data, message] of attempts) {
    await assert.rejects(writeStateFolder(out, { kind: "k", data, write }), { name: "StateError", message });
    assert.deepEqual(await snapshot(root), before);
  }
});

test("overwriting the folder the state was read from works", async (t) => {
  const out = join(await scratch(t), "state");
  await writeSample(out);
  const previous = await readStateFolder(out);
  assert.ok(previous !== null);
  const x = await readColumn(previous.files, "", { file: "memory/x.bin", dtype: "float32", length: 3 }, { dtype: "float32" });
  await writeStateFolder(out, {
    kind: "test-updater",
    data: { counters: { updates: 3 } },
    write: async (tmp) => {
      await writeColumn(folderWriter(tmp), "memory", "x", Float32Array.from([...x, 9]));
    },
  });
  const next = await readStateFolder(out);
  assert.deepEqual(next?.data, { counters: { updates: 3 } });
  assert.deepEqual(Object.keys(next!.manifest.files), ["memory/x.bin"], "files of the previous state are gone");
  const grown = await readColumn(next!.files, "", { file: "memory/x.bin", dtype: "float32", length: 4 });
  assert.deepEqual(Array.from(grown), [0.5, -1.25, 3, 9]);
  assert.deepEqual(await readdir(join(out, "..")), ["state"]);
});

test("refuses to replace a non-empty folder that is not a state folder, or a file", async (t) => {
  const root = await scratch(t);
  await mkdir(join(root, "photos"));
  await writeFile(join(root, "photos", "cat.jpg"), "meow");
  await assert.rejects(writeSample(join(root, "photos")), { name: "StateError", message: /photos is not empty and has no manifest\.json/ });
  assert.equal(await readFile(join(root, "photos", "cat.jpg"), "utf8"), "meow");
  await writeFile(join(root, "file"), "x");
  await assert.rejects(writeSample(join(root, "file")), { name: "StateError", message: /file exists and is not a folder/ });
  await mkdir(join(root, "empty"));
  await writeSample(join(root, "empty"));
  assert.ok((await readStateFolder(join(root, "empty"))) !== null);
});

// A pid far above Linux's pid_max: the "process that crashed" is certainly gone.
const DEAD_PID = 99999999;

test("crash leftovers: .tmp- and .old- siblings are ignored by reads and removed by the next write, unless a live writer's", async (t) => {
  const root = await scratch(t);
  const out = join(root, "state");
  await writeSample(out);
  await mkdir(`${out}.tmp-${DEAD_PID}-deadbeef`);
  await writeFile(join(`${out}.tmp-${DEAD_PID}-deadbeef`, "model.json"), "half");
  await mkdir(`${out}.old-${DEAD_PID}-cafebabe`);
  // our own pid, but no write of this process: left by an earlier process with the same pid (a container's pid 1)
  await mkdir(`${out}.tmp-${process.pid}-0000abcd`);
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
  t.after(() => sleeper.kill("SIGKILL"));
  const live = `${out}.tmp-${sleeper.pid}-0000beef`; // another live process: it may be a writer at work
  await mkdir(live);
  assert.ok((await readStateFolder(out)) !== null);
  await writeSample(out, { after: "crash" });
  assert.deepEqual((await readdir(root)).sort(), ["state", `state.tmp-${sleeper.pid}-0000beef`]);
  assert.deepEqual((await readStateFolder(out))?.data, { after: "crash" });
});

test("crash between the two renames: the next read or write recovers the last committed state by itself", async (t) => {
  const root = await scratch(t);
  const out = join(root, "state");
  // the writer is gone: a dead pid, or our own pid from an earlier process (pid reuse)
  for (const pid of [DEAD_PID, process.pid]) {
    await writeSample(out);
    const old = `${out}.old-${pid}-0badf00d`;
    await rename(out, old);
    const state = await readStateFolder(out);
    assert.deepEqual(state?.data, { counters: { seen: 7, updates: 2 }, seed: 42 });
    assert.equal(state?.recoveredFrom, old);
    assert.deepEqual(await readdir(root), ["state"]);
    // a write finds and recovers it too (so a fresh write onto it is refused like any existing state would be)
    await rename(out, old);
    await writeSample(out, { next: true });
    assert.deepEqual((await readStateFolder(out))?.data, { next: true });
    assert.deepEqual(await readdir(root), ["state"]);
    assert.ok((await stat(out)).isDirectory());
    await rm(out, { recursive: true });
  }
  // a live writer may be between its renames: waited for, then a StateError saying what to do
  await writeSample(out);
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
  t.after(() => sleeper.kill("SIGKILL"));
  await rename(out, `${out}.old-${sleeper.pid}-0badf00d`);
  await assert.rejects(recoverInterruptedSwap(out, 100), {
    name: "StateError",
    message: new RegExp(`state is missing but .*state\\.old-${sleeper.pid}-0badf00d exists: .*Rename it to .*state to resume`),
  });
});

/** Field 22 of /proc/<pid>/stat (the process's start time), as process_identity.ts reads it; undefined without /proc. */
async function startTimeOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

test("a crash leftover records its writer's identity (pid, start time, boot, host): one whose pid now belongs to an unrelated live process is recovered or removed at once", async (t) => {
  const root = await scratch(t);
  const out = join(root, "state");
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
  t.after(() => sleeper.kill("SIGKILL"));
  await new Promise((resolve) => sleeper.once("spawn", resolve));
  const sleeperStart = await startTimeOf(sleeper.pid!);
  if (sleeperStart === undefined) return t.skip("no /proc: start times are not recorded on this system");
  const self = currentProcess();
  const tag = (pid: number, startTime: string, other: Partial<{ hostname: string; bootId: string }> = {}) =>
    writerTag({ ...self, pid, startTime, ...other });
  // pid 1 and a live sleeper, each recorded with a start time that is not theirs: the pid was reused, the writer is dead
  // (and waitMs 0: nothing to wait for); a writer of an earlier boot of this host is dead too
  for (const name of [tag(1, "1"), tag(sleeper.pid!, `${Number(sleeperStart) + 1}`), tag(sleeper.pid!, sleeperStart, { bootId: "earlier boot" })]) {
    await writeSample(out);
    const old = `${out}.old-${name}-deadbeef`;
    await rename(out, old);
    await mkdir(`${out}.tmp-${name}-deadbeef`); // the same crashed write's new state, unfinished: removed with the recovery
    assert.equal(await recoverInterruptedSwap(out, 0), old, name);
    assert.deepEqual(await readdir(root), ["state"], name);
    await rm(out, { recursive: true });
  }
  // the sleeper itself (pid and start time match): it may be a writer mid-swap, so it is waited for, then a person decides
  await writeSample(out);
  await rename(out, `${out}.old-${tag(sleeper.pid!, sleeperStart)}-deadbeef`);
  await assert.rejects(recoverInterruptedSwap(out, 100), { name: "StateError", message: /state is missing but .* exists: .*\(or its process is still running\).*Rename it to/ });
  await rm(root, { recursive: true });
  await mkdir(root);
  // another host's writer cannot be checked from here
  await writeSample(out);
  await rename(out, `${out}.old-${tag(sleeper.pid!, sleeperStart, { hostname: "elsewhere" })}-deadbeef`);
  await assert.rejects(recoverInterruptedSwap(out, 0), { name: "StateError", message: /written on another host, where its process may still run/ });
  await rm(root, { recursive: true });
  await mkdir(root);
  // .tmp- leftovers: a dead writer's (reused pid) is removed by the next write, a live writer's and another host's are kept
  await writeSample(out);
  const live = `state.tmp-${tag(sleeper.pid!, sleeperStart)}-0000beef`;
  const remote = `state.tmp-${tag(sleeper.pid!, sleeperStart, { hostname: "elsewhere" })}-0000beef`;
  for (const name of [`state.tmp-${tag(sleeper.pid!, "1")}-0000beef`, `state.tmp-${tag(1, "1")}-0000beef`, live, remote]) await mkdir(join(root, name));
  await writeSample(out, { after: "crash" });
  assert.deepEqual((await readdir(root)).sort(), ["state", live, remote].sort());
});

async function flipByte(path: string, index: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[index] = bytes[index]! ^ 0xff;
  await writeFile(path, bytes);
}

/**
 * Rewrites manifest.json through `edit`. With reseal (default) the manifest
 * gets a matching checksum and canonical text, as a tool that knows the
 * format would write it, so the checks after the checksum are reached.
 */
async function editManifest(
  dir: string,
  edit: (manifest: Record<string, unknown>) => Record<string, unknown>,
  { reseal = true } = {},
): Promise<void> {
  const path = join(dir, "manifest.json");
  const edited = edit(JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>);
  await writeFile(path, reseal ? manifestToJson(await sealManifest(edited as unknown as StateManifest)) : JSON.stringify(edited));
}

test("columnDescriptorSchema accepts what writeColumn returns", async (t) => {
  const dir = await scratch(t);
  const descriptor = await writeColumn(folderWriter(dir), "", "y", Int32Array.from([1, 2]));
  assert.deepEqual(columnDescriptorSchema.parse(descriptor), { file: "y.bin", dtype: "int32", length: 2 });
});

test('a root file named "__proto__" is refused by the folder writer too (the manifest could not list it)', async (t) => {
  const out = join(await scratch(t), "state");
  await assert.rejects(
    writeStateFolder(out, { kind: "test-updater", write: (tmp) => folderWriter(tmp).writeFile("__proto__", "x") }),
    { name: "StateError", message: /the path is "__proto__", which manifest\.json cannot list/ },
  );
  assert.equal(existsSync(out), false);
});
