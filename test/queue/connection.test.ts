/** `--redis` URLs: parsed or refused with a message that says what is wrong; an unreachable Redis is a clear error. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { checkRedisReachable, parseRedisUrl } from "../../src/queue/connection.js";
import { QueueError } from "../../src/queue/errors.js";
import { freePort, startRedisServer } from "./redis_server.js";

test("redis URLs: host, port, db, credentials; defaults 6379 and db 0", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6380/2"), { host: "127.0.0.1", port: 6380, db: 2, tls: false, display: "redis://127.0.0.1:6380/2" });
  const full = parseRedisUrl("rediss://user:s3cret@redis.example.com");
  assert.equal(full.port, 6379);
  assert.equal(full.db, 0);
  assert.equal(full.tls, true);
  assert.equal(full.password, "s3cret");
  assert.ok(!full.display.includes("s3cret"), "the password stays out of messages");
  assert.equal(full.display, "rediss://user:****@redis.example.com/0", "masked, so a printed command shows that one is needed");
  assert.equal(parseRedisUrl("redis://:pw@h:1/3").display, "redis://:****@h:1/3");
});

test("bad redis URLs are refused, naming the problem", () => {
  const cases: [string, RegExp][] = [
    ["127.0.0.1:6379", /scheme|not a URL/],
    ["http://127.0.0.1:6379", /scheme http:/],
    ["redis://127.0.0.1:6379/zero", /database number/],
    ["redis://127.0.0.1:99999", /port|not a URL/],
    ["not a url", /not a URL/],
  ];
  for (const [url, message] of cases) assert.throws(() => parseRedisUrl(url), (e: Error) => e instanceof QueueError && message.test(e.message), url);
});

test("an unreachable Redis: a QueueError after the bounded tries, saying where it looked and how to start one", async () => {
  const port = await freePort(); // nobody listens there
  const started = performance.now();
  await assert.rejects(checkRedisReachable(parseRedisUrl(`redis://127.0.0.1:${port}`), { attempts: 3, delayMs: 100 }), (e: Error) => {
    assert.ok(e instanceof QueueError);
    assert.match(e.message, new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/0 \\(3 tries`));
    assert.match(e.message, /redis-server --port/);
    return true;
  });
  assert.ok(performance.now() - started >= 200, "it waited between tries");
});

test("a Redis that comes up while the check is retrying is found", async () => {
  const redis = await startRedisServer();
  try {
    const restarting = redis.restart(1500); // stops it now, starts it again 1.5 s later
    await sleep(300);
    const started = performance.now();
    await checkRedisReachable(parseRedisUrl(redis.url), { attempts: 20, delayMs: 200 });
    assert.ok(performance.now() - started > 500, "it was down when the check began");
    await restarting;
  } finally {
    await redis.stop();
  }
});

test("the hint after a failed check names its cause: a missing or wrong password (one try, Redis answered), a closed connection (TLS?), an unknown host", async () => {
  const reach = (url: string) => checkRedisReachable(parseRedisUrl(url), { attempts: 3, delayMs: 300 });
  const refusedWith = async (url: string, message: RegExp, tries: string) => {
    await assert.rejects(reach(url), (e: Error) => {
      assert.ok(e instanceof QueueError, e.message);
      assert.match(e.message, message);
      assert.match(e.message, new RegExp(`\\(${tries}`), e.message);
      assert.doesNotMatch(e.message, /redis-server --port/, "not the start-a-Redis hint");
      return true;
    });
  };
  const redis = await startRedisServer({ password: "s3cret" });
  try {
    const at = `127.0.0.1:${redis.port}`;
    await refusedWith(`redis://${at}`, /NOAUTH.*This Redis requires a password: put it in the URL, redis:\/\/:PASSWORD@host:port\/db/, "1 try");
    await refusedWith(`redis://:wrong@${at}`, /Redis refused the password in the URL: check it/, "1 try");
    await reach(`redis://:s3cret@${at}`); // the right one
  } finally {
    await redis.stop();
  }
  // Something that accepts and closes at once (as a TLS-only Redis does to a plain client).
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as { port: number }).port;
    await refusedWith(`redis://127.0.0.1:${port}`, /closed the connection: if it is a Redis that requires TLS, use rediss:\/\//, "3 tries");
  } finally {
    server.close();
  }
  await refusedWith("redis://no-such-host.invalid:6379", /The host name "no-such-host\.invalid" does not resolve/, "3 tries");
  // Something that answers, but not in Redis' protocol (an HTTP server).
  const http = createServer((socket) => socket.on("data", () => socket.write("<html>not redis</html>\r\n")));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  try {
    const port = (http.address() as { port: number }).port;
    await refusedWith(`redis://127.0.0.1:${port}`, /Something that is not Redis answers at 127\.0\.0\.1:\d+/, "3 tries");
  } finally {
    http.close();
  }
});
