/** Fashion-MNIST's class names (Xiao et al. 2017), for every host (fashion_mnist.ts, which reads files, is Node-only). */

/** The class names, indexed by label. */
export const FASHION_MNIST_CLASSES = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const);
