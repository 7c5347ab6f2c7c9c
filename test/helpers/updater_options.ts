/**
 * Options some registry updaters need beyond the common ones, for tests
 * that run every registered updater: POD-ER and Super-ER must be told which
 * body layer's outputs to distil (no layer named is an OptionsError), here
 * `layer` of the test's model, pooled "pixel" (it works on any rank).
 */
export function requiredUpdaterOptions(name: string, layer: string): Record<string, unknown> {
  if (name === "pod-er") return { layers: [layer], distillationType: "pixel" };
  if (name === "super-er") return { podLayers: [layer], podDistillationType: "pixel" };
  return {};
}
