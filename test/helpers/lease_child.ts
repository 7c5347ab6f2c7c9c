/**
 * A lock holder as a separate process: takes the lock of argv[2] with the lease argv[3] ms, prints "held", and,
 * if argv[4] is "release", releases it. Then it just ends: the renewal timer must not keep it alive.
 */
import { lockStateFolder } from "../../src/state/lock.js";

const [out, lease, then] = process.argv.slice(2) as [string, string, string | undefined];
const lock = await lockStateFolder(out, { leaseMs: Number(lease) });
process.stdout.write("held\n");
if (then === "release") await lock.release();
