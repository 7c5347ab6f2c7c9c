/**
 * `relearn worker --redis URL`: runs jobs from relearn's queue (updates, benchmark cells, tuning trials) until
 * stopped. SIGINT/SIGTERM once: take no new job, let running ones finish, exit 0. Twice: stop running jobs now
 * (they write nothing and go back to the queue for another worker), exit 130/143. A third time: exit at once
 * (closing waits for Redis, which may be away); BullMQ's stalled-job check gives the jobs it held to others.
 */
import { Command, Option } from "commander";
import { QUEUE_NAME } from "../queue/names.js";
import { positiveInt } from "./number_flags.js";

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
/** How long a stopping worker with no running job waits for Redis to answer before it exits without it. */
const CLOSE_WAIT_MS = 5000;

/** One worker log line on stderr, after the time (ISO 8601, UTC): to tell when a job started or waited, and to match other logs. */
function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

export function workerCommand(): Command {
  return new Command("worker")
    .description("run jobs from the job queue (Redis): updates, benchmark cells, tuning trials, each in its own process")
    .requiredOption("--redis <url>", "the Redis the queue lives in: redis://host:port[/db]")
    .option("--concurrency <n>", "jobs run at once, each in its own process (about one per core)", positiveInt, 1)
    .addOption(
      new Option("--lock-duration <ms>", "BullMQ job lock in ms: a job of a worker that died is restarted by another after one to three times this")
        .argParser(positiveInt)
        .default(30000),
    )
    .option("--connect-tries <n>", "tries to reach Redis at start, 1 s apart, before giving up", positiveInt, 10)
    .addHelpText(
      "after",
      `
Examples:
  redis-server --port 6379 --bind 127.0.0.1 &
  relearn worker --redis redis://127.0.0.1:6379 --concurrency 2
  relearn update --config relearn.json --data chunk1.csv --output-state state/a --queue redis://127.0.0.1:6379 --wait
    (enqueues an update and waits for a worker to run it; updates of one lineage, here state/a, run one at a
    time in the order enqueued: --lineage <name> names a lineage)`,
    )
    .action(async (flags: { redis: string; concurrency: number; lockDuration: number; connectTries: number }) => {
      // Loaded here, not at start: the other commands need neither BullMQ nor ioredis.
      const { checkRedisReachable, parseRedisUrl } = await import("../queue/connection.js");
      const { startWorker } = await import("../queue/worker.js");
      const target = parseRedisUrl(flags.redis, "--redis");
      await checkRedisReachable(target, { attempts: flags.connectTries, delayMs: 1000 });
      const worker = startWorker({ redis: target, concurrency: flags.concurrency, lockDurationMs: flags.lockDuration, log });
      await worker.worker.waitUntilReady();
      log(
        `relearn worker: pid ${process.pid} takes jobs from queue "${QUEUE_NAME}" at ${target.display}, ${flags.concurrency} at a time (Ctrl-C: finish running jobs and stop; twice: stop now)`,
      );
      const stopped = new Promise<number>((resolve) => {
        let signals = 0;
        let code = 0; // 0 when running jobs were let finish; 128 + signal when they were stopped
        // Closing hands jobs back through Redis and waits for it. With no job left to hand back, a Redis that does
        // not answer within CLOSE_WAIT_MS (it is down) is not waited for: the worker exits (it used to take a third signal).
        const closeThenResolve = (hard: boolean) => {
          const closed = worker.close(hard).then(() => true);
          const waitForRedis = async (): Promise<void> => {
            for (;;) {
              const timer = new Promise<false>((r) => setTimeout(() => r(false), CLOSE_WAIT_MS).unref());
              if (await Promise.race([closed, timer])) return;
              if (worker.running() === 0) {
                log(`relearn worker: Redis does not answer and no job is running: exiting without it`);
                return;
              }
            }
          };
          void waitForRedis().then(() => resolve(code));
        };
        const onSignal = (signal: keyof typeof EXIT_CODES) => {
          signals++;
          if (signals === 1) {
            log(`relearn worker: ${signal}: taking no new job; finishing ${worker.running()} running job(s) (${signal} again: stop them now)`);
            closeThenResolve(false);
          } else if (signals === 2) {
            log(`relearn worker: ${signal} again: stopping ${worker.running()} running job(s); they go back to the queue`);
            code = EXIT_CODES[signal];
            closeThenResolve(true);
          } else {
            // Closing waits for Redis (to hand jobs back); with Redis away it would wait for ever.
            log(`relearn worker: ${signal} a third time: exiting now; jobs still held go back to the queue when their locks expire`);
            process.exit(code === 0 ? EXIT_CODES[signal] : code);
          }
        };
        process.on("SIGINT", () => onSignal("SIGINT"));
        process.on("SIGTERM", () => onSignal("SIGTERM"));
      });
      const code = await stopped;
      log("relearn worker: stopped");
      process.exit(code);
    });
}
