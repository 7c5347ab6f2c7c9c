/**
 * Reading the state of any relearn updater (inspect, evaluate, predict): the
 * folder is verified (state/read_state.ts), its kind must be one relearn
 * writes, and its data must fit that updater's state schema, options
 * included (state_schema.ts). Updaters resuming a state check their own.
 */
import { StateError } from "../errors.js";
import { MANIFEST_FILE } from "../state/format.js";
import { defaultStateStore } from "../platform.js";
import type { StateStore, StoredState } from "../state/store.js";
import { ClsExperienceReplayModelUpdater } from "./cls_experience_replay.js";
import { DarkExperienceReplayModelUpdater } from "./dark_experience_replay.js";
import { ElasticWeightConsolidationModelUpdater } from "./elastic_weight_consolidation.js";
import { ErAceModelUpdater } from "./er_ace.js";
import { ExperienceReplayModelUpdater } from "./experience_replay.js";
import { FineTuningModelUpdater } from "./fine_tuning.js";
import { GDumbModelUpdater } from "./gdumb.js";
import { ICaRLModelUpdater } from "./icarl.js";
import { JointModelUpdater } from "./joint.js";
import { LearningWithoutForgettingModelUpdater } from "./learning_without_forgetting.js";
import { OfflineExperienceReplayModelUpdater } from "./offline_experience_replay.js";
import { PodExperienceReplayModelUpdater } from "./pod_experience_replay.js";
import { SuperExperienceReplayModelUpdater } from "./super_experience_replay.js";
import { RepeatedDistillationModelUpdater } from "./repeated_distillation.js";
import { checkUpdaterState, type StateCheckOptions } from "./state_check.js";
import type { UpdaterOptionsSchema, UpdaterStateData } from "./state_schema.js";

/** The options schema of every state kind relearn writes (a state's `kind` is its updater's `kind`). */
export const STATE_KINDS: Readonly<Record<string, UpdaterOptionsSchema>> = {
  "repeated-distillation": RepeatedDistillationModelUpdater.optionsSchema,
  "fine-tuning": FineTuningModelUpdater.optionsSchema,
  joint: JointModelUpdater.optionsSchema,
  "experience-replay": ExperienceReplayModelUpdater.optionsSchema,
  "offline-er": OfflineExperienceReplayModelUpdater.optionsSchema,
  gdumb: GDumbModelUpdater.optionsSchema,
  "der++": DarkExperienceReplayModelUpdater.optionsSchema,
  lwf: LearningWithoutForgettingModelUpdater.optionsSchema,
  ewc: ElasticWeightConsolidationModelUpdater.optionsSchema,
  icarl: ICaRLModelUpdater.optionsSchema,
  "cls-er": ClsExperienceReplayModelUpdater.optionsSchema,
  "er-ace": ErAceModelUpdater.optionsSchema,
  "pod-er": PodExperienceReplayModelUpdater.optionsSchema,
  "super-er": SuperExperienceReplayModelUpdater.optionsSchema,
};

/**
 * Reads and checks the state `dir` of `options.store` (default: the host's, folders in Node): a StateError when it is
 * missing, damaged, of a kind relearn does not write, or fails the check of
 * the whole state every reader runs (state_check.ts).
 */
export async function readUpdaterState(
  dir: string,
  options: StateCheckOptions & { store?: StateStore | undefined } = {},
): Promise<StoredState<UpdaterStateData>> {
  const state = await (options.store ?? defaultStateStore()).read(dir);
  if (!state) throw new StateError(`${dir}: no state folder there`);
  const schema = STATE_KINDS[state.manifest.kind];
  if (schema === undefined) {
    throw new StateError(
      `${state.dir}/${MANIFEST_FILE} is a state of kind "${state.manifest.kind}", which no relearn updater writes ` +
        `(known: ${Object.keys(STATE_KINDS).join(", ")})`,
    );
  }
  return { ...state, data: await checkUpdaterState(state, schema, options) };
}
