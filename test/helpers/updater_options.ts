/**
 * Options some registry updaters need beyond the common ones, for tests
 * that run every registered updater on a small model:
 * - POD-ER and Super-ER must be told which body layer's outputs to distil
 *   (no layer named is an OptionsError): `layer` of the test's model, pooled
 *   "pixel" (which works on outputs of any rank);
 * - Super-ER gets the DER paper's logit and label weights (0.1, 0.5: der++'s
 *   defaults) instead of Renate's 1 and 1: in runs of a few epochs the logit
 *   MSE at weight 1 ties the model to the logits stored during the first
 *   epoch (der++ with alpha 1 and beta 1 loses an old task the same way in
 *   the task-incremental benchmark test).
 */
export function registryTestOptions(name: string, layer: string): Record<string, unknown> {
  if (name === "pod-er") return { layers: [layer], distillationType: "pixel" };
  if (name === "super-er") return { podLayers: [layer], podDistillationType: "pixel", derAlpha: 0.1, derBeta: 0.5 };
  return {};
}
