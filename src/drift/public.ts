/** The public part of drift detection, re-exported whole by core.ts. */
export { detectDrift, detectSampleDrift, driftFeatures, DRIFT_DETECTORS, type DriftDetectorName, type DriftOptions, type DriftReport } from "./detector.js";
export { mmdTest, type MmdEstimator, type MmdOptions, type MmdResult } from "./mmd.js";
export { ksTwoSample, kolmogorovSurvival, type KsMethod } from "./kolmogorov_smirnov.js";
