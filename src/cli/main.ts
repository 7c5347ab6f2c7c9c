#!/usr/bin/env node
/**
 * The relearn command line. Commands are thin: parse -> validate -> call the
 * library -> print. Exit codes: 0 success, 1 a RelearnError (bad input,
 * corrupt state: the message says what to fix), 2 an unexpected failure.
 */
import { Command } from "commander";
import { RelearnError } from "../errors.js";
import { benchmarkCommand } from "./benchmark_command.js";
import { tuneCommand } from "./tune_command.js";
import { jobCommand } from "./job_command.js";
import { workerCommand } from "./worker_command.js";
import { initCommand } from "./init_command.js";
import { updateCommand } from "./update_command.js";
import { evaluateCommand, predictCommand } from "./evaluate_command.js";
import { inspectCommand } from "./inspect_command.js";
import { driftCommand } from "./drift_command.js";
import { exportModelCommand } from "./export_model_command.js";
import { exportStateCommand, importStateCommand } from "./state_archive_command.js";
import { fileSystemStore } from "../state/fs_store.js";
import { parseThreads } from "../backend/wasm_threads.js";
import { LIBRARY_VERSION } from "../state/format.js";
import { markRequiredOptions } from "./help.js";

// A reader that stops early (`relearn predict ... | head`, `relearn update ... 2>&1 | head -1`) is not an error, and
// must not stop the command half-way: an update would otherwise die with Node's exit code 7 between epochs, its
// lock left behind and nothing said. What is written after the reader left is dropped; the command finishes.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") return;
    throw error;
  });
}

const program = new Command("relearn")
  .description("continual learning for TypeScript: keep a model up to date as data arrives")
  .version(LIBRARY_VERSION, "-V, --version", "print the relearn version")
  .option(
    "--wasm-threads <n>",
    "threads the wasm backend computes on, 1 to 4 (default: RELEARN_WASM_THREADS, else one per core, at most 4)",
  )
  .hook("preAction", (command) => {
    // Passed on through the environment: every initBackend of this process reads it.
    const threads = command.opts<{ wasmThreads?: string }>().wasmThreads;
    if (threads !== undefined) process.env.RELEARN_WASM_THREADS = String(parseThreads(threads, "--wasm-threads"));
  })
  .addCommand(initCommand())
  .addCommand(updateCommand())
  .addCommand(evaluateCommand())
  .addCommand(predictCommand())
  .addCommand(inspectCommand())
  .addCommand(driftCommand())
  .addCommand(exportModelCommand())
  .addCommand(exportStateCommand(fileSystemStore))
  .addCommand(importStateCommand(fileSystemStore))
  .addCommand(benchmarkCommand())
  .addCommand(tuneCommand())
  .addCommand(workerCommand())
  .addCommand(jobCommand())
  .addHelpText(
    "after",
    `
A first session (relearn <command> --help shows each command's options and examples):
  relearn init --config relearn.json --input-shape 8 --classes 3 --model mlp:64,64
  relearn update --config relearn.json --data chunk1.csv --output-state state/v1
  relearn update --config relearn.json --data chunk2.csv --input-state state/v1 --output-state state/v2
  relearn evaluate --state state/v2 --data test.csv
  relearn predict --state state/v2 --data new.csv

Exit codes: 0 success; 1 bad input, options, data or state (the message says what to fix); 2 an unexpected failure;
130 or 143: interrupted by SIGINT (Ctrl-C) or SIGTERM: for an update run here, nothing written, lock removed;
for update --queue --wait, job --wait and benchmark --queue, only the waiting stopped: the job (or the cells) stays
queued or running for the workers, which write its output (relearn job <id> --queue URL shows a job later).`,
  );

markRequiredOptions(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof RelearnError) {
    process.stderr.write(`relearn: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`relearn: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  }
}
