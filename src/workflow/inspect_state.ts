/**
 * `relearn inspect`: what a state folder holds, checked whole first (manifest,
 * format version, checksums): format and library version, updater and
 * options, updates so far, the memory and its class histogram, and the
 * metrics history of every update.
 */
import type { SlotPolicyName } from "../memory/slot_policy.js";
import { readUpdaterState } from "../updaters/state_kinds.js";
import { loadMemory } from "../updaters/memory_state.js";
import { ICARL_KIND, loadICaRLState } from "../updaters/icarl_state.js";
import { classHistogram } from "../data/dataset_ops.js";
import { readStateLogs, type EpochRecord } from "../reporting/state_logs.js";
import type { StateStore } from "../state/store.js";
import { MANIFEST_FILE } from "../state/format.js";
import { readStateDataSettings, stateDataSettingsSchema, type StateDataSettings } from "./state_data.js";

export interface StateInspection {
  dir: string;
  formatVersion: number;
  library: { name: string; version: string };
  updater: string;
  updatesDone: number;
  options: Record<string, unknown>;
  /** How the training files were read (CSV header, label column...); null for a state written without it. */
  /** How the state read its training data (config settings, and how "auto" resolved: headerRead, delimiterRead). */
  dataSettings: StateDataSettings | null;
  /**
   * The config the update that wrote the state ran with (`updater`: its registry name, e.g. "rd-budget" where
   * `updater` above is the state kind), which `relearn update` continues with when given no --config; null when the
   * state records none (state_config.ts).
   */
  config: Record<string, unknown> | null;
  /** The id of the queue job whose update wrote the state (relearn worker); null when anything else wrote it. */
  queueJob: string | null;
  files: number;
  bytes: number;
  model: unknown;
  memory?: { length: number; capacity: number; seen: number; policy: string; classHistogram: number[] };
  /** An iCaRL state's exemplars (its memory: chosen by herding, memorySize split over the classes) and the classes with a mean. */
  exemplars?: { length: number; memorySize: number; classHistogram: number[]; classesWithMean: number[] };
  /**
   * The validation sets the state keeps, in the order added: `source` is what the update that added it called it
   * (its file), `update` that update's number (null for either when the state did not record it).
   */
  validationSets: { taskId: string; items: number; source: string | null; update: number | null }[];
  metricsHistory: EpochRecord[];
}

/** Inspects the state `dir` of `store` (default: the host's, folders in Node). */
export async function inspectState(dir: string, store?: StateStore): Promise<StateInspection> {
  const state = await readUpdaterState(dir, { dataSettingsSchema: stateDataSettingsSchema, store });
  const data = state.data as Omit<typeof state.data, "algorithm"> & {
    algorithm: { memory?: { meta?: { capacity?: number; policy?: SlotPolicyName } } };
  };
  const files = Object.values(state.manifest.files);
  const memoryMeta = data.algorithm?.memory?.meta;
  let memory: StateInspection["memory"];
  if (memoryMeta?.capacity !== undefined && memoryMeta.policy !== undefined) {
    const multiHead = (state.data as { model?: { multiHead?: unknown } }).model?.multiHead === true;
    const buffer = await loadMemory(state.files, data.algorithm!.memory, { kind: state.manifest.kind, capacity: memoryMeta.capacity, policy: memoryMeta.policy, multiHead });
    memory = { length: buffer.length, capacity: buffer.capacity, seen: buffer.seen, policy: buffer.policy, classHistogram: buffer.classHistogram() };
  }
  let exemplars: StateInspection["exemplars"];
  if (state.manifest.kind === ICARL_KIND) {
    const icarl = await loadICaRLState(state.files, data.algorithm);
    exemplars = {
      length: icarl.exemplars?.length ?? 0,
      memorySize: data.options["memorySize"] as number,
      classHistogram: icarl.exemplars ? classHistogram(icarl.exemplars) : [],
      classesWithMean: [...(icarl.classMeans?.classes ?? [])],
    };
  }
  return {
    dir: state.dir,
    formatVersion: state.manifest.formatVersion,
    library: state.manifest.library,
    updater: state.manifest.kind,
    updatesDone: data.updatesDone,
    options: data.options,
    dataSettings: readStateDataSettings(state.data, `${state.dir}/${MANIFEST_FILE}`) ?? null,
    config: data.config ?? null,
    queueJob: data.queueJob ?? null,
    files: files.length,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    model: data.model,
    ...(memory ? { memory } : {}),
    ...(exemplars ? { exemplars } : {}),
    validationSets: data.validation.map((v) => ({ taskId: v.taskId, items: v.labels.length, source: v.source ?? null, update: v.update ?? null })),
    metricsHistory: await readStateLogs(state.files),
  };
}
