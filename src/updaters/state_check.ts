/**
 * The one check of a whole state that every reader runs before using it:
 * `update` resuming it (ModelUpdater.prepare), `inspect`, `evaluate` and
 * `predict` (readUpdaterState). One function, so a state one command accepts
 * is never refused (or silently used) by another.
 *
 * On top of the folder check (read_state.ts: manifest, checksums) and the
 * updater's schema (state_schema.ts), it checks what needs the files or
 * another section:
 * - the data settings (`data.data`), with data_format.ts's schema (or one a
 *   caller injects), so a library update checks them as the CLI does;
 * - the memory section against its columns (ReplayBuffer.fromSnapshot: seen
 *   at least the stored length, labels below numClasses, ...);
 * - `updatesDone` against the logs: the logs cannot hold a later update.
 */
import type * as z from "zod";
import { stateDataSettingsSchema } from "../data/data_format.js";
import { StateError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SlotPolicyName } from "../memory/slot_policy.js";
import { readStateLogs } from "../reporting/state_logs.js";
import { describeZodIssue, MANIFEST_FILE } from "../state/format.js";
import type { StoredState } from "../state/store.js";
import { loadMemory } from "./memory_state.js";
import { parseUpdaterState, type UpdaterOptionsSchema, type UpdaterStateData } from "./state_schema.js";

/** Options of {@link checkUpdaterState}. */
export interface StateCheckOptions {
  /**
   * Schema of the data settings a state stores as `data.data` (the workflow's `stateDataSettingsSchema`).
   * Without one, any JSON object passes (a library user's own settings).
   */
  dataSettingsSchema?: z.ZodType | undefined;
  /** Warnings (a format-1 state has no manifest checksum). */
  logger?: Logger | undefined;
}

/**
 * Checks the whole state `state` (already read and checksummed) of an updater whose options schema is `full`,
 * returning its parsed data. Every inconsistency is a StateError naming the file.
 */
export async function checkUpdaterState(
  state: StoredState,
  full: UpdaterOptionsSchema | undefined,
  options: StateCheckOptions = {},
): Promise<UpdaterStateData> {
  const data = parseUpdaterState(state, full, options.logger);
  const manifest = `${state.dir}/${MANIFEST_FILE}`;
  if (data.data !== undefined) {
    // The library's own schema unless a caller injects another: a library update must not carry invalid settings forward.
    const parsed = (options.dataSettingsSchema ?? stateDataSettingsSchema).safeParse(data.data);
    if (!parsed.success) {
      throw new StateError(`${manifest}: the data settings are invalid: ${describeZodIssue(parsed.error, ["data", "data"])}`);
    }
  }
  const memory = data.algorithm["memory"] as { meta?: { capacity?: unknown; policy?: unknown } } | undefined;
  if (memory !== undefined) {
    // loadMemory checks the section against its columns; capacity and policy are the stored ones (the options were checked against them).
    await loadMemory(state.files, memory, {
      kind: state.manifest.kind,
      capacity: Number(memory.meta?.capacity),
      policy: memory.meta?.policy as SlotPolicyName,
      multiHead: data.model.multiHead,
    });
  }
  const logs = await readStateLogs(state.files);
  const lastLogged = logs.reduce((last, record) => Math.max(last, record.update), 0);
  if (lastLogged > data.updatesDone) {
    throw new StateError(
      `${manifest}: field "data.updatesDone" is ${data.updatesDone} but the state's logs hold epochs of update ${lastLogged}: ` +
        `the manifest was edited; restore the state folder from a backup`,
    );
  }
  return data;
}
