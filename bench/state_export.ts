/**
 * State store and export timings in Node, on fake-indexeddb (a browser's
 * IndexedDB has other costs: these show relearn's own share: checksums,
 * deflate, verification). The state is the size of an RD state of the demo:
 * an MLP 784-256-256-10 (float32 weights, twice: student and expert) and a
 * memory of 500 Fashion-MNIST-sized items.
 *
 *   npx tsx bench/state_export.ts
 */
import { IDBFactory } from "fake-indexeddb";
import { indexedDbStore } from "../src/state/idb_store.js";
import { exportState, importState } from "../src/state/state_export.js";

const WEIGHTS = (784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10) * 4;
const MEMORY = 500 * 784 * 4;
const ROUNDS = 5;

/** Bytes like trained float32 weights: random mantissas, few exponents (as compressible as real ones, roughly). */
function floatBytes(count: number, seed: number): Uint8Array {
  const values = new Float32Array(count / 4);
  let state = seed;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    values[i] = ((state / 2 ** 32) - 0.5) * 0.2;
  }
  return new Uint8Array(values.buffer);
}

async function best(label: string, run: () => Promise<unknown>): Promise<void> {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    await run();
    fastest = Math.min(fastest, performance.now() - start);
  }
  console.log(`${label.padEnd(44)} ${fastest.toFixed(1).padStart(8)} ms (best of ${ROUNDS})`);
}

const files: [string, Uint8Array][] = [
  ["model/weights.bin", floatBytes(WEIGHTS, 1)],
  ["expert/weights.bin", floatBytes(WEIGHTS, 2)],
  ["memory/x.bin", floatBytes(MEMORY, 3)],
  ["model/model.json", new TextEncoder().encode(JSON.stringify({ modelTopology: { layers: [1, 2, 3] } }))],
];
const totalMb = files.reduce((sum, [, bytes]) => sum + bytes.length, 0) / 1e6;
console.log(`state: ${files.length} files, ${totalMb.toFixed(2)} MB; node ${process.version}`);

const store = indexedDbStore({ indexedDB: new IDBFactory() });
const write = () =>
  store.write("rd", {
    kind: "bench",
    write: async (writer) => {
      for (const [path, bytes] of files) await writer.writeFile(path, bytes);
    },
  });
await best("indexedDbStore.write (fake-indexeddb)", write);
await best("indexedDbStore.read (verified)", () => store.read("rd"));
let archive: Uint8Array = new Uint8Array();
await best("exportState", async () => (archive = await exportState(store, "rd")));
console.log(`archive: ${(archive.length / 1e6).toFixed(2)} MB (${((100 * archive.length) / (totalMb * 1e6)).toFixed(0)}% of the files)`);
const target = indexedDbStore({ indexedDB: new IDBFactory() });
await best("importState (verify + write)", () => importState(target, "copy", archive, { overwrite: true }));
