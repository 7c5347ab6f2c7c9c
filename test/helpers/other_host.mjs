// Preload (node --import) that makes this process look like one on another
// host sharing the file system: os.hostname() returns FAKE_HOSTNAME (default
// "elsewhere"), so the locks it writes name that host.
import { createRequire, syncBuiltinESMExports } from "node:module";

const os = createRequire(import.meta.url)("node:os");
const name = process.env.FAKE_HOSTNAME ?? "elsewhere";
os.hostname = () => name;
syncBuiltinESMExports();
