/**
 * `relearn worker` processes for queue tests, run from source as the CLI runs them, with their stderr lines kept
 * (one line per job start and end) and waitable:
 *
 *   const w = startWorkerProcess(redis.url, { lockDurationMs: 2000 });
 *   await w.ready;                                   // it printed its "takes jobs" line
 *   await w.waitForLine(/started/);                  // a job started on it
 *   w.kill("SIGKILL");
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** Every stderr line so far, with the time (ms since the epoch) it arrived. */
  lines: { at: number; text: string }[];
  ready: Promise<void>;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

export function startWorkerProcess(url: string, options: { lockDurationMs?: number; concurrency?: number; env?: NodeJS.ProcessEnv } = {}): WorkerProcess {
  const args = ["--import", "tsx", MAIN, "worker", "--redis", url, "--concurrency", String(options.concurrency ?? 1)];
  if (options.lockDurationMs !== undefined) args.push("--lock-duration", String(options.lockDurationMs));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "pipe"], env: { ...process.env, ...options.env } });
  const lines: WorkerProcess["lines"] = [];
  const waiters = new Set<() => void>();
  let partial = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const text of parts) {
      lines.push({ at: Date.now(), text });
      if (process.env.RELEARN_TEST_VERBOSE) process.stderr.write(`[worker ${child.pid}] ${text}\n`);
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const waitForLine = (pattern: RegExp, timeoutMs = 60000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const hit = lines.find((line) => pattern.test(line.text));
        if (hit === undefined) return false;
        cleanup();
        resolve(hit.text);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`worker ${child.pid}: no line matching ${pattern} within ${timeoutMs} ms; its lines:\n${lines.map((l) => l.text).join("\n")}`));
      }, timeoutMs);
      const onExit = () => {
        if (check()) return;
        cleanup();
        reject(new Error(`worker ${child.pid} exited before a line matching ${pattern}; its lines:\n${lines.map((l) => l.text).join("\n")}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        child.off("exit", onExit);
      };
      const wake = () => void check();
      if (check()) return;
      waiters.add(wake);
      child.once("exit", onExit);
    });
  return {
    child,
    lines,
    ready: waitForLine(/takes jobs from queue/).then(() => {}),
    waitForLine,
    exited,
    kill: (signal) => void child.kill(signal),
  };
}

/** Stops workers for good at the end of a test (SIGKILL: their jobs are the test's, Redis goes away next). */
export async function killAll(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      await w.exited;
    }),
  );
}
