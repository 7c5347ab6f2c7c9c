/**
 * Side-effect module: makes sure tfjs-core's gradient functions are
 * registered. Under Node, "@tensorflow/tfjs-core" resolves to its CommonJS
 * bundle, which ships WITHOUT the gradient registrations (tf.grad of a mean
 * fails with "gradient function not found for Mean"); the tfjs-layers bundle
 * registers all of them. Every module that differentiates imports this one.
 */
import "@tensorflow/tfjs-layers";
