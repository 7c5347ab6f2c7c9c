import { test } from "node:test";
import assert from "node:assert/strict";
import { link, mkdir, mkdtemp, rm, stat, utimes, writeFile, readFile, readdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { LockHeldElsewhereError, lockStateFolder } from "../../src/state/lock.js";
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

test("five processes racing to take over another host's run-out lease, every syscall slowed: never two holders", async (t) => {
  const dir = await scratch(t);
  await otherHostLock(join(dir, "state"), 120_000, 60_000);
  const { codes, log } = await contend(dir, 5, 400);
  assertNoOverlap(log);
  assert.ok(codes.includes(0), `someone takes the run-out lock over: ${codes}`);
  assert.ok(codes.every((c) => c === 0 || c === 1), `exit codes ${codes}`);
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

/** Writes a lock of another host whose lease was last renewed `ageMs` ago. */
async function otherHostLock(out: string, ageMs: number, leaseMs?: number): Promise<string> {
  const content = JSON.stringify({ pid: 4242, hostname: "elsewhere", token: "theirs", ...(leaseMs === undefined ? {} : { leaseMs }) });
  await writeFile(`${out}.lock`, content);
  const then = new Date(Date.now() - ageMs);
  await utimes(`${out}.lock`, then, then);
  return content;
}

test("another host's lock: refused while its lease is fresh (naming the holder and when it runs out), taken over once it ran out", async (t) => {
  const out = join(await scratch(t), "state");
  // fresh: the holder's own lease (recorded in the lock) is what counts, not ours
  await otherHostLock(out, 1000, 60_000);
  await assert.rejects(
    lockStateFolder(out, { leaseMs: 500 }),
    refusedWith(/on host elsewhere \(process 4242, lock .*state\.lock\); its lease was renewed [01]\.\d s ago and runs out in 5\d\.\d s unless renewed.*delete .*state\.lock/),
  );
  // a queue job waits that long (src/queue/jobs/update.ts)
  await assert.rejects(lockStateFolder(out), (e) => e instanceof LockHeldElsewhereError && e.runsOutInMs > 55_000 && e.runsOutInMs <= 59_000);
  // run out: taken over through the takeover path; nothing left behind
  await otherHostLock(out, 70_000, 60_000);
  const taken = await lockStateFolder(out);
  assert.equal((JSON.parse(await readFile(`${out}.lock`, "utf8")) as { hostname: string }).hostname, hostname());
  await taken.release();
  // a lock without a recorded lease (an older relearn) is judged by ours (option, else RELEARN_LOCK_LEASE_MS, else 60 s)
  await otherHostLock(out, 3000);
  await assert.rejects(lockStateFolder(out), refusedWith(/runs out in 5\d\.\d s/));
  await assert.rejects(lockStateFolder(out, { leaseMs: 10_000 }), refusedWith(/runs out in [67]\.\d s/));
  const envBefore = process.env.RELEARN_LOCK_LEASE_MS;
  process.env.RELEARN_LOCK_LEASE_MS = "2000";
  try {
    await (await lockStateFolder(out)).release();
  } finally {
    if (envBefore === undefined) delete process.env.RELEARN_LOCK_LEASE_MS;
    else process.env.RELEARN_LOCK_LEASE_MS = envBefore;
  }
  await assert.rejects(lockStateFolder(out, { leaseMs: 0 }), refusedWith(/lease must be a positive number/));
  assert.deepEqual(await readdir(join(out, "..")), [], "no lock or private file left behind");
});

test("the holder renews its lease (content unchanged) every L/3 until it releases, and in verify", async (t) => {
  const out = join(await scratch(t), "state");
  const lock = await lockStateFolder(out, { leaseMs: 300 });
  const content = await readFile(`${out}.lock`, "utf8");
  const old = new Date(Date.now() - 10_000);
  await utimes(`${out}.lock`, old, old);
  await sleep(450);
  const renewed = (await stat(`${out}.lock`)).mtimeMs;
  assert.ok(renewed > Date.now() - 1000, "renewed within L/3");
  assert.equal(await readFile(`${out}.lock`, "utf8"), content, "renewal leaves the content as it was");
  await lock.verify();
  // after release, nothing touches the file any more (even were it put back)
  await link(`${out}.lock`, join(out, "..", "kept"));
  await lock.release();
  await link(join(out, "..", "kept"), `${out}.lock`);
  await utimes(`${out}.lock`, old, old);
  await sleep(450);
  assert.equal(Math.round((await stat(`${out}.lock`)).mtimeMs), old.getTime(), "no renewal after release");
});

function holderOnOtherHost(out: string, leaseMs: number, then?: "release") {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--import", "./test/helpers/other_host.mjs", "test/helpers/lease_child.ts", out, String(leaseMs), ...(then ? [then] : [])],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const held = async () => {
    while (!stdout.includes("held")) {
      if (child.exitCode !== null) throw new Error(`holder exited ${child.exitCode}: ${stderr}`);
      await sleep(20);
    }
  };
  return { child, exited, held, stderr: () => stderr };
}

test("a live holder on another host keeps its lease (never taken over), and its renewal timer never keeps it alive", async (t) => {
  const out = join(await scratch(t), "state");
  // the process ends by itself while holding: its lock stays (as for a killed worker), renewed no more
  const holder = holderOnOtherHost(out, 3000);
  await holder.held();
  // (a renewal timer keeping it alive would make it run for ever: give up after 10 s)
  const exit = await Promise.race([holder.exited, sleep(10_000).then(() => "still running")]);
  if (exit === "still running") holder.child.kill("SIGKILL");
  assert.equal(exit, 0, `the holder ended by itself: ${holder.stderr()}`);
  assert.match(await readFile(`${out}.lock`, "utf8"), /"hostname":"elsewhere"/);
  // ... so once its lease has run out (3 s), it is taken over
  await assert.rejects(lockStateFolder(out), refusedWith(/on host elsewhere .*runs out in/));
  await sleep(3200);
  await (await lockStateFolder(out)).release();

  // a holder that stays alive (in a process on "another host") is refused for 3 leases and more
  const stays = spawn(
    process.execPath,
    [
      "--import", "tsx", "--import", "./test/helpers/other_host.mjs", "-e",
      `import("./src/state/lock.ts").then(async ({ lockStateFolder }) => { await lockStateFolder(${JSON.stringify(out)}, { leaseMs: 1500 }); process.stdout.write("held\\n"); setTimeout(() => {}, 60000); })`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const gone = new Promise((r) => stays.once("exit", r));
  t.after(async () => { stays.kill("SIGKILL"); await gone; });
  await new Promise<void>((resolve) => stays.stdout.on("data", (c: Buffer) => c.toString().includes("held") && resolve()));
  const until = Date.now() + 4000; // more than 2 leases
  let refusals = 0;
  while (Date.now() < until) {
    await assert.rejects(lockStateFolder(out), refusedWith(/on host elsewhere/));
    refusals++;
    await sleep(100);
  }
  assert.ok(refusals > 5);
  // killed (a lost machine): its lease runs out and the lock is taken over
  stays.kill("SIGKILL");
  await gone;
  await sleep(1700);
  await (await lockStateFolder(out)).release();
});

test("a released holder on another host leaves nothing, and exits at once", async (t) => {
  const out = join(await scratch(t), "state");
  const holder = holderOnOtherHost(out, 1000, "release");
  const exit = await Promise.race([holder.exited, sleep(10_000).then(() => "still running")]);
  if (exit === "still running") holder.child.kill("SIGKILL");
  assert.equal(exit, 0, `the holder ended by itself: ${holder.stderr()}`);
  assert.deepEqual(await readdir(join(out, "..")), []);
});
