/** `--redis` URLs: parsed or refused with a message that says what is wrong; an unreachable Redis is a clear error. */
import { test } from "node:test";
import assert from "node:assert/strict";
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
