/**
 * Updaters by name, for the CLI, config files and benchmarks. Each entry says
 * whether the algorithm has a replay memory (and so takes memorySize).
 */
import { OptionsError } from "../errors.js";
import type { ModelUpdater } from "./model_updater.js";
import type { ModelUpdaterOptions } from "./options.js";
import type { UpdaterOptionsSchema } from "./state_schema.js";
import { RepeatedDistillationModelUpdater, budgetConsolidationEpochs } from "./repeated_distillation.js";
import { FineTuningModelUpdater } from "./fine_tuning.js";
import { JointModelUpdater } from "./joint.js";
import { ExperienceReplayModelUpdater } from "./experience_replay.js";
import { OfflineExperienceReplayModelUpdater } from "./offline_experience_replay.js";
import { GDumbModelUpdater } from "./gdumb.js";
import { DarkExperienceReplayModelUpdater } from "./dark_experience_replay.js";
import { LearningWithoutForgettingModelUpdater } from "./learning_without_forgetting.js";
import { ElasticWeightConsolidationModelUpdater } from "./elastic_weight_consolidation.js";
import { ICaRLModelUpdater } from "./icarl.js";
import { ClsExperienceReplayModelUpdater, CLS_ER_ACE_DEFAULTS } from "./cls_experience_replay.js";
import { ErAceModelUpdater } from "./er_ace.js";
import { PodExperienceReplayModelUpdater, type PodExperienceReplayOptions } from "./pod_experience_replay.js";
import { SuperExperienceReplayModelUpdater } from "./super_experience_replay.js";

export interface UpdaterEntry {
  description: string;
  usesMemory: boolean;
  /** True when the updater refuses a multi-head model (task-incremental scenarios): its `create` succeeds, its first update throws. */
  singleHeadOnly?: boolean;
  /** The zod schema of the options its class takes (the class's static `optionsSchema`): what a config may set for it. */
  optionsSchema: UpdaterOptionsSchema;
  create(options: ModelUpdaterOptions & { memorySize?: number | undefined }): ModelUpdater;
}

const withMemory = (name: string, memorySize: number | undefined): number => {
  if (memorySize === undefined) throw new OptionsError(`updater "${name}" needs a memorySize`);
  return memorySize;
};

export const UPDATERS = {
  rd: {
    description: "Repeated Distillation (Renate): fresh expert per chunk, consolidation by double distillation over a reservoir memory",
    usesMemory: true,
    optionsSchema: RepeatedDistillationModelUpdater.optionsSchema!,
    create: (o) => new RepeatedDistillationModelUpdater({ ...o, memorySize: withMemory("rd", o.memorySize) }),
  },
  "rd-budget": {
    description: "RD with a consolidation budget: consolidationEpochs = max(maxEpochs, ceil(25000 / memorySize)) unless given",
    usesMemory: true,
    optionsSchema: RepeatedDistillationModelUpdater.optionsSchema!,
    create: (o) => {
      const memorySize = withMemory("rd-budget", o.memorySize);
      const consolidationEpochs = (o as { consolidationEpochs?: number }).consolidationEpochs ?? budgetConsolidationEpochs(memorySize, o.maxEpochs ?? 50);
      return new RepeatedDistillationModelUpdater({ ...o, memorySize, consolidationEpochs });
    },
  },
  "fine-tuning": {
    description: "fine-tuning on each chunk (lower bound: forgets)",
    usesMemory: false,
    optionsSchema: FineTuningModelUpdater.optionsSchema!,
    create: ({ memorySize: _ignored, ...o }) => new FineTuningModelUpdater(o),
  },
  joint: {
    description: "retrain from scratch on all data seen (upper bound)",
    usesMemory: false,
    optionsSchema: JointModelUpdater.optionsSchema!,
    create: ({ memorySize: _ignored, ...o }) => new JointModelUpdater(o),
  },
  er: {
    description: "experience replay: each batch mixes new items with a memory batch; memory filled as data streams in",
    usesMemory: true,
    optionsSchema: ExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new ExperienceReplayModelUpdater({ ...o, memorySize: withMemory("er", o.memorySize) }),
  },
  "offline-er": {
    description: "offline experience replay: like ER, but the memory is updated at the end of each update",
    usesMemory: true,
    optionsSchema: OfflineExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new OfflineExperienceReplayModelUpdater({ ...o, memorySize: withMemory("offline-er", o.memorySize) }),
  },
  gdumb: {
    description: "GDumb: class-balanced memory, model retrained from scratch on the memory only",
    usesMemory: true,
    optionsSchema: GDumbModelUpdater.optionsSchema!,
    create: (o) => new GDumbModelUpdater({ ...o, memorySize: withMemory("gdumb", o.memorySize) }),
  },
  "der++": {
    description: "DER++: replay with stored logits (MSE on logits plus a label term)",
    usesMemory: true,
    optionsSchema: DarkExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new DarkExperienceReplayModelUpdater({ ...o, memorySize: withMemory("der++", o.memorySize) }),
  },
  lwf: {
    description: "Learning without Forgetting: no memory; KL distillation of earlier updates' classes against the model as the previous update left it",
    usesMemory: false,
    optionsSchema: LearningWithoutForgettingModelUpdater.optionsSchema!,
    create: ({ memorySize: _ignored, ...o }) => new LearningWithoutForgettingModelUpdater(o),
  },
  ewc: {
    description: "Elastic Weight Consolidation: no memory; quadratic penalty on moving weights, weighted by the empirical Fisher, one pair per past update",
    usesMemory: false,
    optionsSchema: ElasticWeightConsolidationModelUpdater.optionsSchema!,
    create: ({ memorySize: _ignored, ...o }) => new ElasticWeightConsolidationModelUpdater(o),
  },
  "ewc-online": {
    description: "online EWC: like ewc, but one penalty whose Fisher decays (decayFactor, default 1) and accumulates over updates",
    usesMemory: false,
    optionsSchema: ElasticWeightConsolidationModelUpdater.optionsSchema!,
    create: ({ memorySize: _ignored, ...o }) => {
      // The name says the mode: a contradicting ewcMode is refused, not silently replaced (tester H, H3).
      const mode = (o as { ewcMode?: unknown }).ewcMode;
      if (mode !== undefined && mode !== "online") {
        throw new OptionsError(`updater "ewc-online" is EWC with ewcMode "online"; ewcMode ${JSON.stringify(mode)} contradicts it: use the updater "ewc" for one penalty per update, or drop ewcMode`);
      }
      return new ElasticWeightConsolidationModelUpdater({ ...o, ewcMode: "online" });
    },
  },
  icarl: {
    description: "iCaRL: herding exemplars, sigmoid distillation on old classes, nearest-class-mean prediction (single-head only)",
    usesMemory: true,
    singleHeadOnly: true,
    optionsSchema: ICaRLModelUpdater.optionsSchema!,
    create: (o) => new ICaRLModelUpdater({ ...o, memorySize: withMemory("icarl", o.memorySize) }),
  },
  "cls-er": {
    description: "CLS-ER: replay plus consistency with a stable and a plastic weight average; the stable one predicts",
    usesMemory: true,
    optionsSchema: ClsExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new ClsExperienceReplayModelUpdater({ ...o, memorySize: withMemory("cls-er", o.memorySize) }),
  },
  "cls-er-ace": {
    description: "CLS-ER with ER-ACE's asymmetric cross-entropy on new data and shorter averages (stable 0.995, plastic 0.99): the best at memory 500",
    usesMemory: true,
    optionsSchema: ClsExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new ClsExperienceReplayModelUpdater({ ...CLS_ER_ACE_DEFAULTS, ...o, memorySize: withMemory("cls-er-ace", o.memorySize) }),
  },
  "er-ace": {
    description: "ER-ACE: experience replay whose new-data cross-entropy covers only the classes of the current batch",
    usesMemory: true,
    optionsSchema: ErAceModelUpdater.optionsSchema!,
    create: (o) => new ErAceModelUpdater({ ...o, memorySize: withMemory("er-ace", o.memorySize) }),
  },
  "pod-er": {
    description: "POD-ER (Renate): replay with pooled distillation of the outputs of named layers, stored with each memory item",
    usesMemory: true,
    optionsSchema: PodExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new PodExperienceReplayModelUpdater({ ...(o as PodExperienceReplayOptions), memorySize: withMemory("pod-er", o.memorySize) }),
  },
  "super-er": {
    description: "Super-ER (Renate): DER logit replay + CLS-ER consistency + POD of named layers + shrink-and-perturb at each update's start",
    usesMemory: true,
    optionsSchema: SuperExperienceReplayModelUpdater.optionsSchema!,
    create: (o) => new SuperExperienceReplayModelUpdater({ ...o, memorySize: withMemory("super-er", o.memorySize) }),
  },
} satisfies Record<string, UpdaterEntry>;

export type UpdaterName = keyof typeof UPDATERS;
export const UPDATER_NAMES = Object.keys(UPDATERS) as UpdaterName[];

/** The registry entry of `name`, or an OptionsError listing the known names. */
export function updaterEntry(name: string): UpdaterEntry {
  const entry = (UPDATERS as Record<string, UpdaterEntry>)[name];
  if (!entry) throw new OptionsError(`unknown updater "${name}"; known: ${UPDATER_NAMES.join(", ")}`);
  return entry;
}

/** A new updater of the named algorithm. */
export function createUpdater(name: string, options: ModelUpdaterOptions & { memorySize?: number | undefined }): ModelUpdater {
  return updaterEntry(name).create(options);
}
