/**
 * Where Redis is: `--redis redis://host:port[/db]` parsed into the connection
 * options BullMQ and ioredis take, and a bounded check that it answers, so a
 * worker or producer started before Redis (a container starting up) waits a
 * little, and one pointed at a wrong address fails with a clear message
 * instead of retrying forever in the background (ioredis' default).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { QueueError } from "./errors.js";

/** The parts of a Redis URL relearn uses. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL with its password masked (****), for messages and logs. */
  display: string;
}

/**
 * Parses `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS); port 6379 and db 0 by default.
 * Throws a QueueError naming `flag` (the command-line flag or setting the URL came from: `--redis` for a worker,
 * `--queue` for update, benchmark and tune), the URL and what is wrong with it.
 */
export function parseRedisUrl(url: string, flag = "--redis"): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueError(`${flag}: "${url}" is not a URL; expected redis://host:port[/db], e.g. redis://127.0.0.1:6379`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new QueueError(`${flag}: "${url}" has the scheme ${parsed.protocol}; expected redis:// (or rediss:// for TLS), e.g. redis://127.0.0.1:6379`);
  }
  if (parsed.hostname === "") throw new QueueError(`${flag}: "${url}" names no host; expected redis://host:port[/db]`);
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new QueueError(`${flag}: "${url}" has no valid port (1-65535)`);
  const path = parsed.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d+$/.test(path)) throw new QueueError(`${flag}: "${url}": the path must be a database number (e.g. /0), got "/${path}"`);
  const db = path === "" ? 0 : Number(path);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  // The password masked, not dropped: a command printed with this URL must show that one is needed (tester G, F17).
  const credentials = parsed.username === "" && parsed.password === "" ? "" : `${decodeURIComponent(parsed.username)}${parsed.password === "" ? "" : ":****"}@`;
  const display = `${parsed.protocol}//${credentials}${parsed.host}/${db}`;
  return {
    host,
    port,
    db,
    ...(parsed.username === "" ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === "" ? {} : { password: decodeURIComponent(parsed.password) }),
    tls: parsed.protocol === "rediss:",
    display,
  };
}

/** The connection options BullMQ (Queue, Worker, QueueEvents) and ioredis both take. */
export interface ConnectionSettings {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  maxRetriesPerRequest: null;
}

/**
 * Connection options for `target`. `maxRetriesPerRequest: null` is what BullMQ requires of a worker's connection: a
 * command waits for Redis to come back instead of failing, so a restarted Redis is a pause, not a lost job.
 */
export function redisOptions(target: RedisTarget): ConnectionSettings {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

export interface ReachOptions {
  /** Tries before giving up (default 5). */
  attempts?: number;
  /** Wait between tries in ms (default 1000). */
  delayMs?: number;
}

/**
 * Pings Redis until it answers, at most `attempts` times; throws a QueueError saying where it looked and how to
 * start a Redis when it never does.
 */
export async function checkRedisReachable(target: RedisTarget, options: ReachOptions = {}): Promise<void> {
  const attempts = options.attempts ?? 5;
  const delayMs = options.delayMs ?? 1000;
  let lastError = "";
  let tries = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    tries = attempt;
    // One connection per try, with ioredis' own reconnecting off: the loop here is the bounded retry.
    const client = new Redis({ ...redisOptions(target), lazyConnect: true, retryStrategy: () => null, connectTimeout: 3000, maxRetriesPerRequest: 0 });
    // The socket's error (ECONNREFUSED, ENOTFOUND) says more than the "Connection is closed." connect() rejects with.
    let socketError: string | undefined;
    client.on("error", (error: Error) => (socketError ??= error.message));
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (error) {
      lastError = socketError ?? (error as Error).message;
    } finally {
      client.disconnect();
    }
    // Redis answered and refused (a password): trying again gets the same answer.
    if (redisAnswered(lastError)) break;
    if (attempt < attempts) await sleep(delayMs);
  }
  throw new QueueError(
    `cannot reach Redis at ${target.display} (${tries} ${tries === 1 ? "try" : `tries, ${delayMs} ms apart`}; last error: ${lastError}). ${reachHint(target, lastError)}`,
  );
}

/** Errors Redis itself sends (authentication), as opposed to the network's. */
function redisAnswered(error: string): boolean {
  return /NOAUTH|WRONGPASS|invalid password|invalid username-password|AUTH <password> called without any password|no password is set/i.test(error);
}

/** What to do about `error` (the socket's or Redis' message), by its cause. */
export function reachHint(target: RedisTarget, error: string): string {
  if (/NOAUTH|Authentication required/i.test(error)) {
    return "This Redis requires a password: put it in the URL, redis://:PASSWORD@host:port/db (or redis://USER:PASSWORD@... for an ACL user).";
  }
  if (/WRONGPASS|invalid password|invalid username-password/i.test(error)) {
    const what = target.username === undefined ? "the password in the URL: check it" : `user "${target.username}" and the password in the URL: check them`;
    return `Redis refused ${what} (a password with @, : or / must be percent-encoded).`;
  }
  if (/called without any password|no password is set/i.test(error)) {
    return "This Redis has no password set: drop the password from the URL (redis://host:port/db).";
  }
  if (/ENOTFOUND|EAI_AGAIN/.test(error)) return `The host name "${target.host}" does not resolve: check the URL's host.`;
  if (/Unknown RESP type|Protocol error/i.test(error)) {
    return `Something that is not Redis answers at ${target.host}:${target.port} (it does not speak Redis' protocol${target.tls ? "" : "; or it is a Redis that requires TLS: rediss://"}): check the port.`;
  }
  if (target.tls && /ETIMEDOUT|connect timeout/i.test(error)) {
    return `The TLS handshake did not complete (rediss://): if this Redis does not use TLS, use redis:// instead; else check the host and port.`;
  }
  if (/ETIMEDOUT|connect timeout/i.test(error)) {
    return `Nothing answered at ${target.host}:${target.port} within 3 s: check the host and port, and that no firewall drops the connection.`;
  }
  if (target.tls && /wrong version number|EPROTO|SSL|TLS|certificate/i.test(error)) {
    return `The TLS connection failed (rediss://): if this Redis does not use TLS, use redis:// instead; if it does, check its certificate.`;
  }
  if (!target.tls && /ECONNRESET|EPIPE|Connection is closed|socket hang up/i.test(error)) {
    return "Something at that port closed the connection: if it is a Redis that requires TLS, use rediss:// instead of redis://.";
  }
  return `Is redis-server running there? Start one with: redis-server --port ${target.port} --bind 127.0.0.1`;
}

/** A connected client for relearn's own keys (lineage order, fingerprints); the caller quits it. */
export function openRedis(target: RedisTarget): Redis {
  const client = new Redis(redisOptions(target));
  // ioredis reconnects by itself; an error event without a listener would crash the process meanwhile.
  client.on("error", () => {});
  return client;
}
