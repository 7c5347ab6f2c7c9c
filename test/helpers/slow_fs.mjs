// Preload (node --import) that slows the file system calls a lock makes: each
// of them waits a random 0..SLOW_FS_MS ms before and after the real call, and
// writes wait SLOW_FS_WRITE_MS more before (default 200 ms), so
// the windows between the steps of a lock acquisition, takeover or release
// are wide open to other processes. Works on any code that imports
// node:fs/promises (builtin named exports are re-synced after patching).
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);
const promises = require("node:fs").promises;
const maxMs = Number(process.env.SLOW_FS_MS ?? "40");
const writeMs = Number(process.env.SLOW_FS_WRITE_MS ?? "200");
const pause = (extra = 0) => new Promise((resolve) => setTimeout(resolve, extra + Math.random() * maxMs));
const slowed = (original, extra = 0) =>
  async function (...args) {
    await pause(extra);
    try {
      return await original.apply(this, args);
    } finally {
      await pause();
    }
  };
for (const name of ["open", "link", "rename", "readFile", "unlink", "rm"]) promises[name] = slowed(promises[name]);
promises.writeFile = slowed(promises.writeFile, writeMs);
// Writes through a file handle too (a lock file created empty, then written).
const handle = await promises.open(process.execPath, "r");
const fileHandle = Object.getPrototypeOf(handle);
await handle.close();
for (const name of ["writeFile", "write"]) fileHandle[name] = slowed(fileHandle[name], writeMs);
fileHandle.close = slowed(fileHandle.close);
syncBuiltinESMExports();
