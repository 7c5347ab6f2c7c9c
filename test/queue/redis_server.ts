/**
 * A real redis-server for queue tests: started on 127.0.0.1 at a free port (never 6379, which someone else may
 * use), in a temporary folder, and stopped at the end. Shared by the queue tests of every job kind:
 *
 *   const redis = await startRedisServer({ persistent: true });   // redis.url = "redis://127.0.0.1:<port>"
 *   ...
 *   await redis.restart(500);   // stop (SIGTERM, data kept when persistent), 500 ms down, start on the same port
 *   await redis.stop();         // and remove its folder
 *
 * `password` starts it with `--requirepass` (redis.url has no password in it).
 * `persistent: true` turns the append-only file on (fsync'd on every write), so a restart keeps the queue as a
 * production Redis with persistence would; without it Redis keeps nothing on disk.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const REDIS_SERVER = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  /** Its working folder (append-only file when persistent). */
  dir: string;
  /** The redis-server's pid now (changes on restart). */
  pid(): number | undefined;
  /** Stops it (SIGTERM) and removes its folder. */
  stop(): Promise<void>;
  /** Stops it, waits `downMs`, starts it again on the same port and folder; resolves once it answers PING. */
  restart(downMs?: number): Promise<void>;
}

/** A port nobody listens on now (the OS's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** True when something on 127.0.0.1:port answers "PING" with "+PONG" (or, for a Redis with a password, "-NOAUTH"). */
export async function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG") || reply.startsWith("-NOAUTH"));
    });
  });
}

function launch(port: number, dir: string, persistent: boolean, password?: string): ChildProcess {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--loglevel", "warning"];
  if (password !== undefined) args.push("--requirepass", password);
  args.push(...(persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
  return spawn(REDIS_SERVER, args, { stdio: ["ignore", "ignore", "inherit"] });
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode})`);
    if (await pings(port)) return;
    await sleep(50);
  }
  throw new Error(`redis-server on port ${port} did not answer within 10 s`);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts a redis-server for a test; see the file's comment. */
export async function startRedisServer(options: { persistent?: boolean; password?: string } = {}): Promise<RedisServer> {
  const persistent = options.persistent ?? false;
  const dir = mkdtempSync(join(tmpdir(), "relearn-redis-"));
  // The port is free when asked, but another process may take it before redis-server binds: try a few.
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    let child = launch(port, dir, persistent, options.password);
    try {
      await waitReady(port, child);
    } catch (error) {
      await terminate(child);
      if (tries < 3) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      dir,
      pid: () => child.pid,
      stop: async () => {
        await terminate(child);
        rmSync(dir, { recursive: true, force: true });
      },
      restart: async (downMs = 0) => {
        await terminate(child);
        await sleep(downMs);
        child = launch(port, dir, persistent, options.password);
        await waitReady(port, child);
      },
    };
  }
}
