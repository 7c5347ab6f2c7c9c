/**
 * A writer committing in a loop, in its own process: argv[2] is the state folder to replace, argv[3] and
 * argv[4] two complete state folders whose files and manifest data it commits there in turn (a, b, a, ...),
 * argv[5] times, with the same two renames as every update (atomic_folder.ts). Prints "committed <n>" at the end.
 * Readers tested against it must see one of the two states, whole, every time.
 */
import { copyFile, mkdir, readFile, readdir } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { writeStateFolder } from "../../src/state/atomic_folder.js";

const [target, a, b, count] = process.argv.slice(2) as [string, string, string, string];

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = relative(dir, join(entry.parentPath, entry.name));
    if (entry.isFile() && path !== "manifest.json") out.push(path);
  }
  return out;
}

const sources = await Promise.all([a, b].map(async (dir) => {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as { kind: string; data: unknown };
  return { dir, kind: manifest.kind, data: manifest.data, files: await filesOf(dir) };
}));
for (let i = 0; i < Number(count); i++) {
  const source = sources[i % 2]!;
  await writeStateFolder(target, {
    kind: source.kind,
    data: source.data,
    write: async (tmp) => {
      for (const path of source.files) {
        await mkdir(dirname(join(tmp, path)), { recursive: true });
        await copyFile(join(source.dir, path), join(tmp, path));
      }
    },
  });
  // Updates commit seconds apart; 25 ms here still puts a commit inside many reads.
  await sleep(25);
}
process.stdout.write(`committed ${count}\n`);
