/**
 * Per-lineage order: two jobs of the same model lineage never run at once, and a lineage's jobs are applied in
 * the order they were enqueued; jobs of different lineages run in parallel.
 *
 * A LINEAGE is the chain of states one model goes through. Its name is `--lineage <name>` when given (a customer
 * id, a model name), else the absolute path of the update's output state folder, so repeated in-place updates of
 * one state folder (`--input-state S --output-state S`, what a service does) are one lineage without saying so.
 * A chain through distinct folders (v1 -> v2 -> v3) must name its lineage.
 *
 * Why not BullMQ groups: they are BullMQ Pro only. With open-source BullMQ we keep, per lineage, in Redis:
 *   - `enqueued`: a counter the producer INCRs; the value is the job's `seq` (its place in the lineage), and the
 *     job id is `lineage-<hash>-<seq>`, so a worker can look the job of any place up;
 *   - `done`: the last seq applied (or failed for good);
 *   - `lock`: the token of the worker running the lineage's job, with an expiry the runner renews.
 * A job runs only when it is the lineage's next (seq = done + 1) and it takes the lock; otherwise the worker puts
 * it back with `job.moveToDelayed` + `DelayedError` (BullMQ's documented way to postpone an active job without
 * spending an attempt) and takes other work. The seq decides the order; the lock covers the one case where the
 * order alone is not enough: the same job running twice, when a worker lost its BullMQ job lock (Redis away
 * longer than the lock duration) but its job process goes on.
 *
 * A job that fails for good (attempts spent, bad data) moves `done` past it: the lineage goes on from the state
 * the job left unchanged, and the failure stays in BullMQ's failed set. So does a job BullMQ itself failed
 * (stalled too often), and a seq whose job never arrived (a producer killed between INCR and add) after a grace.
 * A job whose place the lineage has gone past without it (retried by hand after failing for good, or arriving after
 * the grace) fails for good, saying so, rather than run out of order.
 */
import { createHash } from "node:crypto";
import { DelayedError, UnrecoverableError, type Job, type Queue } from "bullmq";
import type { Redis } from "ioredis";
import { KEY_PREFIX } from "./names.js";
import type { LineageField } from "./lineage_field.js";

/** The Redis keys of a lineage: its name hashed, so any text (a path, an id) is a safe key and job id. */
export function lineageKeys(name: string): { hash: string; enqueued: string; done: string; lock: string; missing: string } {
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 20);
  const base = `${KEY_PREFIX}:lineage:${hash}`;
  return { hash, enqueued: `${base}:enqueued`, done: `${base}:done`, lock: `${base}:lock`, missing: `${base}:missing` };
}

/** The BullMQ job id of a lineage's job number `seq` (custom job ids must not be plain integers nor hold ":"). */
export function lineageJobId(name: string, seq: number): string {
  return `lineage-${lineageKeys(name).hash}-${seq}`;
}

/** A producer's next place in the lineage (1, 2, ...). */
export async function nextLineageSeq(redis: Redis, name: string): Promise<number> {
  return redis.incr(lineageKeys(name).enqueued);
}

/** The lineage's last applied seq (0 before any). */
export async function lineageDone(redis: Redis, name: string): Promise<number> {
  return Number((await redis.get(lineageKeys(name).done)) ?? 0);
}

// done: from -> to, only if nobody moved it meanwhile.
const ADVANCE = `if tonumber(redis.call("GET", KEYS[1]) or "0") == tonumber(ARGV[1]) then redis.call("SET", KEYS[1], ARGV[2]) return 1 end return 0`;
const RENEW = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

export interface LineageGateOptions {
  /** Expiry of the lineage lock in ms; the holder renews it every third of that (default 30000, BullMQ's lock duration). */
  lockMs?: number;
  /** How long a job that is not the lineage's next waits before it asks again, in ms (default 1000). */
  pollMs?: number;
  /** How long a missing place in the lineage is waited for before it is skipped, in ms (default 60000). */
  missingGraceMs?: number;
}

/** What `enter` decided: run the job (then call `leave`), or it was applied already (result kept by `leave`). */
export type GateDecision = { kind: "run"; leave: (outcome: "applied" | "failed-for-good" | "will-retry", result?: unknown) => Promise<void> } | { kind: "applied"; result: unknown };

export class LineageGate {
  private readonly lockMs: number;
  private readonly pollMs: number;
  private readonly missingGraceMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    options: LineageGateOptions = {},
  ) {
    this.lockMs = options.lockMs ?? 30000;
    this.pollMs = options.pollMs ?? 1000;
    this.missingGraceMs = options.missingGraceMs ?? 60000;
  }

  /**
   * Lets `job` (of `lineage`) run if it is the lineage's next and the lineage is free; otherwise moves it back to
   * delayed and throws BullMQ's DelayedError, which the processor must let through.
   */
  async enter(job: Job, token: string, lineage: LineageField): Promise<GateDecision> {
    const keys = lineageKeys(lineage.name);
    for (;;) {
      const done = await lineageDone(this.redis, lineage.name);
      if (lineage.seq <= done) {
        // Applied before: the worker that ran it died after recording that, before BullMQ heard of it.
        const kept = await this.redis.get(resultKey(job));
        if (kept !== null) return { kind: "applied", result: JSON.parse(kept) };
        // Never applied, and the lineage went on without it: it failed for good earlier (and is being retried by
        // hand), or it arrived after its place was given up as missing. Running it now would break the order.
        throw new UnrecoverableError(
          `lineage ${lineage.name} went on past place ${lineage.seq} without this job (it failed for good before, or came ` +
            `after its place was given up as missing); it was not applied: enqueue it again to apply it after the lineage's latest`,
        );
      }
      if (lineage.seq > done + 1) {
        if (await this.skipDeadPlace(lineage.name, done)) continue;
        return this.postpone(job, token);
      }
      const holder = `${job.id}:${token}`;
      if ((await this.redis.set(keys.lock, holder, "PX", this.lockMs, "NX")) !== "OK") return this.postpone(job, token);
      const renewal = setInterval(() => void this.redis.eval(RENEW, 1, keys.lock, holder, String(this.lockMs)).catch(() => {}), this.lockMs / 3);
      return {
        kind: "run",
        leave: async (outcome, result) => {
          clearInterval(renewal);
          if (outcome !== "will-retry") {
            // The result first, then done: a retry that sees done finds the result.
            if (outcome === "applied") await this.redis.set(resultKey(job), JSON.stringify(result ?? null), "EX", RESULT_TTL_S);
            await this.redis.eval(ADVANCE, 1, keys.done, String(lineage.seq - 1), String(lineage.seq));
          }
          await this.redis.eval(RELEASE, 1, keys.lock, holder);
          if (outcome !== "will-retry") await this.wakeNext(lineage.name, lineage.seq + 1);
        },
      };
    }
  }

  private async postpone(job: Job, token: string): Promise<never> {
    await job.moveToDelayed(Date.now() + this.pollMs, token);
    throw new DelayedError();
  }

  /** The next job of the lineage was waiting for this one: let it ask now rather than at its next poll. */
  private async wakeNext(name: string, seq: number): Promise<void> {
    try {
      const next = await this.queue.getJob(lineageJobId(name, seq));
      if (next !== undefined && (await next.isDelayed())) await next.promote();
    } catch {
      // It may have been promoted or picked up meanwhile; its own poll covers any miss.
    }
  }

  /**
   * Moves `done` past place done+1 when its job will never run: failed for good (BullMQ failed it after too many
   * stalls, so no `leave` ran), or missing for longer than the grace. True when it moved.
   */
  private async skipDeadPlace(name: string, done: number): Promise<boolean> {
    const keys = lineageKeys(name);
    const blocking = await this.queue.getJob(lineageJobId(name, done + 1));
    let dead = false;
    if (blocking === undefined) {
      const now = Date.now();
      await this.redis.set(keys.missing, `${done + 1}:${now}`, "NX");
      const [seq, since] = ((await this.redis.get(keys.missing)) ?? "").split(":").map(Number);
      if (seq !== done + 1) await this.redis.set(keys.missing, `${done + 1}:${now}`);
      else dead = now - (since ?? now) > this.missingGraceMs;
    } else {
      dead = (await blocking.getState()) === "failed";
    }
    if (!dead) return false;
    await this.redis.eval(ADVANCE, 1, keys.done, String(done), String(done + 1));
    return true;
  }
}

/** How long the result of an applied lineage job is kept for a late retry to return (a week). */
const RESULT_TTL_S = 7 * 24 * 3600;

function resultKey(job: Job): string {
  return lineageResultKey(job.id!);
}

/** Where the result of applied lineage job `jobId` is kept (a week), beside BullMQ's own keys. */
export function lineageResultKey(jobId: string): string {
  return `${KEY_PREFIX}:job:${jobId}:result`;
}
