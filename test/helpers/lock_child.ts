/**
 * One contender for a state folder lock, as a separate process: takes the
 * lock of argv[2], appends "enter <pid>" to the log argv[3], holds it argv[4]
 * ms (starting at the time argv[5]), checks it still holds it (as an update does before committing),
 * appends "exit <pid>" and releases it. Exit 0 when it held the lock, 1 when refused, 2 otherwise.
 */
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { lockStateFolder } from "../../src/state/lock.js";
import { StateError } from "../../src/errors.js";

const [out, log, hold, startAt] = process.argv.slice(2) as [string, string, string, string];
// Every contender starts at the same moment (argv[5], ms since the epoch), whatever its start-up time.
await sleep(Math.max(0, Number(startAt) - Date.now()));
try {
  const lock = await lockStateFolder(out);
  appendFileSync(log, `enter ${process.pid}\n`);
  await sleep(Number(hold));
  await (lock as { verify?: () => Promise<void> }).verify?.(); // what an update does before it commits
  appendFileSync(log, `exit ${process.pid}\n`);
  await lock.release();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${String(error)}\n`);
  process.exit(error instanceof StateError ? 1 : 2);
}
