/**
 * `relearn job <id> --queue URL [--wait]`: where a queued update is (the id `relearn update --queue` printed), and its
 * summary once done; `--wait` waits for it as `update --queue --wait` does. For picking a job up again after the
 * command that queued it stopped waiting (Ctrl-C), or from another shell.
 */
import { Command } from "commander";
import { QueueError } from "../queue/errors.js";
import { noWorkerNote } from "../queue/workers_connected.js";
import { formatUpdateSummary } from "./update_command.js";
import { printJson } from "./output.js";
import { stopWaitingOnSignals } from "./interrupt.js";

export function jobCommand(): Command {
  return new Command("job")
    .description("show a queued update by its job id (the id relearn update --queue printed): waiting, running, failed, or its summary")
    .argument("<id>", "the job id")
    .requiredOption("--queue <redis-url>", "the Redis the job was queued at: redis://host:port[/db]")
    .option("--wait", "wait until the job is done and print its summary (Ctrl-C stops the waiting only, exit 130)")
    .option("--json", "print the job's status (and result) as JSON")
    .addHelpText(
      "after",
      `
Examples:
  relearn update --config relearn.json --data chunk2.csv --input-state state/v1 --output-state state/v2 --queue redis://127.0.0.1:6379
  relearn job lineage-8b3ee4b3895083bfffaa-2 --queue redis://127.0.0.1:6379          # the id update --queue printed
  relearn job lineage-8b3ee4b3895083bfffaa-2 --queue redis://127.0.0.1:6379 --wait
A benchmark cell's or tuning trial's id (from a worker's log) shows its state and, once done, its value as JSON.`,
    )
    .action(async (id: string, flags: { queue: string; wait?: boolean; json?: boolean }) => {
      // Loaded here: the other commands need neither BullMQ nor ioredis.
      const { checkRedisReachable, parseRedisUrl } = await import("../queue/connection.js");
      const { UpdateProducer } = await import("../queue/enqueue.js");
      const target = parseRedisUrl(flags.queue, "--queue");
      await checkRedisReachable(target, { attempts: 3, delayMs: 1000 });
      const producer = new UpdateProducer(target);
      try {
        let status = await producer.status(id);
        if (status === undefined) {
          throw new QueueError(`no job ${id} at ${target.display}: check the id (relearn update --queue printed it) and the Redis URL, db number included`);
        }
        if (flags.wait === true && status.state !== "completed" && status.state !== "failed") {
          if ((await producer.workerCount()) === 0) {
            process.stderr.write(`note: ${noWorkerNote("the job waits", target.display)}\n`);
          }
          const result = await stopWaitingOnSignals(
            (signal) => `relearn job: ${signal}: stopped waiting; job ${id} stays queued (or running) for the workers`,
            () => producer.waitFor(id),
          );
          status = { state: "completed", result };
        }
        if (flags.json) {
          printJson({ jobId: id, ...status });
          if (status.state === "failed") process.exitCode = 1;
          return;
        }
        if (status.state === "failed") throw new QueueError(`job ${id} failed: ${"failedReason" in status ? status.failedReason : "(no reason kept)"}`);
        if (status.state !== "completed" || !("result" in status)) {
          process.stdout.write(`job ${id}: ${status.state}${status.state === "active" ? " (a worker is running it)" : ""}; --wait waits for it\n`);
          return;
        }
        const result = status.result as { recovered?: unknown } | null;
        if (typeof result !== "object" || result === null || !("recovered" in result)) {
          // Not an update job (a benchmark cell, a tuning trial): its state, then its value as it is.
          process.stdout.write(`job ${id}: completed; its value:\n`);
          printJson(result);
          return;
        }
        process.stdout.write(
          status.result.recovered
            ? `job ${id} wrote update ${status.result.updatesDone} to ${status.result.outputState} (found written by an earlier attempt)\n`
            : formatUpdateSummary(status.result.summary),
        );
      } finally {
        await producer.close();
      }
    });
}
