/**
 * Writes a small state folder at argv[2] with data {"version": argv[3]}, in a
 * separate process, so a test can make it die at a chosen step
 * (RELEARN_TEST_CRASH_AT, see src/state/atomic_folder.ts).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeStateFolder } from "../../src/state/atomic_folder.js";

const [out, version] = process.argv.slice(2) as [string, string];
await writeStateFolder(out, {
  kind: "test-updater",
  data: { version: Number(version) },
  write: (tmp) => writeFile(join(tmp, "model.json"), `{"version":${version}}`),
});
