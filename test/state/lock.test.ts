import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile, readFile, readdir } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { lockStateFolder } from "../../src/state/lock.js";
import { currentProcess } from "../../src/state/process_identity.js";
import { StateError } from "../../src/errors.js";

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "relearn-lock-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const refusedWith = (pattern: RegExp) => (e: unknown) => e instanceof StateError && pattern.test((e as Error).message);

function sleeper() {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
  const exited = new Promise((r) => child.once("exit", r));
  return { pid: child.pid!, stop: async () => { child.kill("SIGKILL"); await exited; } };
}

test("one writer per output folder: a second lock fails clearly; release frees it; a dead holder's lock is taken over", async (t) => {
  const out = join(await scratch(t), "state");
  const first = await lockStateFolder(out);
  await assert.rejects(lockStateFolder(out), refusedWith(/already being written by another update in this process/));
  await first.release();
  const second = await lockStateFolder(out);
  await second.release();

  // a live other process holds it (a lock in relearn 0.1.0's format: the bare pid)
  const live = sleeper();
  await writeFile(`${out}.lock`, `${live.pid}\n`);
  await assert.rejects(lockStateFolder(out), refusedWith(new RegExp(`process ${live.pid}`)));
  await live.stop();
  // now it is stale
  const third = await lockStateFolder(out);
  const held = JSON.parse(await readFile(`${out}.lock`, "utf8")) as { pid: number; hostname: string };
  assert.equal(held.pid, process.pid);
  assert.equal(held.hostname, hostname());
  await third.release();
  assert.deepEqual(await readdir(join(out, "..")), [], "no lock or private file left behind");
});

test("a reused pid does not keep a dead holder's lock: our pid with another start time or boot, or not held by us", async (t) => {
  const out = join(await scratch(t), "state");
  const self = currentProcess();
  const locks = [
    // the container case: the previous run was pid 1 too, and this one is pid 1 again
    { ...self, startTime: "1", token: "a" },
    { ...self, bootId: "00000000-0000-0000-0000-000000000000", token: "b" },
    // same pid and start time (or no /proc), but this process holds no such lock
    { pid: self.pid, hostname: self.hostname, token: "c" },
  ];
  for (const lock of locks) {
    await writeFile(`${out}.lock`, JSON.stringify(lock));
    const taken = await lockStateFolder(out);
    assert.equal((JSON.parse(await readFile(`${out}.lock`, "utf8")) as { token: string }).token.length, 16);
    await taken.release();
  }
  // a live process whose pid was reused: its recorded start time differs from the process's real one
  const live = sleeper();
  t.after(live.stop);
  if (self.startTime !== undefined) {
    await writeFile(`${out}.lock`, JSON.stringify({ pid: live.pid, hostname: self.hostname, startTime: "1", bootId: self.bootId }));
    const taken = await lockStateFolder(out);
    await taken.release();
  }
  // ... but with its real start time it is alive, and the lock is refused
  await writeFile(`${out}.lock`, JSON.stringify({ pid: live.pid, hostname: self.hostname }));
  await assert.rejects(lockStateFolder(out), refusedWith(/being written by another update \(process \d+/));
  // another host cannot be checked from here: refused, saying how to remove it
  await writeFile(`${out}.lock`, JSON.stringify({ pid: 1, hostname: "elsewhere" }));
  await assert.rejects(lockStateFolder(out), refusedWith(/on host elsewhere .*delete .*state\.lock/));
});

test("release and verify touch only the holder's own lock", async (t) => {
  const out = join(await scratch(t), "state");
  const lock = await lockStateFolder(out);
  await lock.verify();
  // another process took the lock over (e.g. judged this holder dead)
  const other = JSON.stringify({ pid: 1, hostname: "elsewhere", token: "someone-else" });
  await writeFile(`${out}.lock`, other);
  await assert.rejects(lock.verify(), refusedWith(/lost the lock .*state\.lock/));
  await lock.release();
  assert.equal(await readFile(`${out}.lock`, "utf8"), other, "another holder's lock is left in place");
});

/** Runs `count` lock contenders at once (separate processes, every fs call slowed); returns their exit codes and the log. */
async function contend(dir: string, count: number, holdMs: number): Promise<{ codes: (number | null)[]; log: string[] }> {
  const log = join(dir, "log.txt");
  await writeFile(log, "");
  const startAt = Date.now() + 4000; // after every child has loaded
  const children = Array.from({ length: count }, () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--import", "./test/helpers/slow_fs.mjs", "test/helpers/lock_child.ts", join(dir, "state"), log, String(holdMs), String(startAt)],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SLOW_FS_MS: "60" } },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    return new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code === 2 ? (console.error(stderr), 2) : code)));
  });
  const codes = await Promise.all(children);
  return { codes, log: (await readFile(log, "utf8")).split("\n").filter((l) => l !== "") };
}

/** Every "enter" is followed by the same process's "exit" before anyone else enters. */
function assertNoOverlap(log: string[]): void {
  for (let i = 0; i < log.length; i += 2) {
    const pid = log[i]!.split(" ")[1];
    assert.equal(log[i], `enter ${pid}`, `line ${i}: ${log.join(" | ")}`);
    assert.equal(log[i + 1], `exit ${pid}`, `two holders at once: ${log.join(" | ")}`);
  }
}

test("five processes racing for one lock, every lock syscall slowed: never two holders, the losers refused", async (t) => {
  const dir = await scratch(t);
  for (let round = 0; round < 2; round++) {
    const { codes, log } = await contend(dir, 5, 400);
    assertNoOverlap(log);
    assert.ok(codes.every((c) => c === 0 || c === 1), `exit codes ${codes}`);
    assert.ok(codes.includes(0) && codes.includes(1), `one wins, the others are refused: ${codes}`);
  }
});

test("five processes racing to take over a stale lock, every syscall slowed: never two holders", async (t) => {
  const dir = await scratch(t);
  for (let round = 0; round < 2; round++) {
    await writeFile(join(dir, "state.lock"), JSON.stringify({ pid: 2 ** 22 + 1, hostname: hostname(), token: "dead" }));
    const { codes, log } = await contend(dir, 5, 400);
    assertNoOverlap(log);
    assert.ok(codes.includes(0), `someone takes the stale lock over: ${codes}`);
    assert.ok(codes.every((c) => c === 0 || c === 1), `exit codes ${codes}`);
  }
});

test("a folder where the lock file goes is a StateError naming it (not an unexpected EISDIR), and leaves nothing behind", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-lock-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, "state");
  await mkdir(`${out}.lock`);
  await assert.rejects(lockStateFolder(out), (e) => e instanceof StateError && e.message.includes(`${out}.lock is a folder`) && /move or delete that folder/.test(e.message));
  assert.deepEqual((await readdir(dir)).sort(), ["state.lock"]);
  // the same for the takeover file of a stale lock
  await rm(`${out}.lock`, { recursive: true });
  await writeFile(`${out}.lock`, JSON.stringify({ pid: 99999999, hostname: hostname() }));
  await mkdir(`${out}.lock.takeover`);
  await assert.rejects(lockStateFolder(out), (e) => e instanceof StateError && e.message.includes(`${out}.lock.takeover is a folder`));
});
