import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DataError, OptionsError } from "../../src/errors.js";
import { classHistogram } from "../../src/data/dataset_ops.js";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FULL_PATH,
  bundledFashionMnistPath,
  loadFashionMnist,
} from "../../src/data/fashion_mnist.js";

const fullInstalled = existsSync(join(FASHION_MNIST_FULL_PATH, "train-images-idx3-ubyte.gz"));
const missing = "/nonexistent/fashion-mnist";

test("the class names follow the Fashion-MNIST label order", () => {
  assert.equal(FASHION_MNIST_CLASSES.length, 10);
  assert.equal(FASHION_MNIST_CLASSES[0], "T-shirt/top");
  assert.equal(FASHION_MNIST_CLASSES[6], "Shirt");
  assert.equal(FASHION_MNIST_CLASSES[9], "Ankle boot");
});

test("bundled subset: 10,000 x 784 train and 2,000 test images, stratified 1000/200 per class", async () => {
  const { train, test: testSet, source, path } = await loadFashionMnist({ source: "bundled" });
  assert.equal(source, "bundled");
  assert.equal(path, bundledFashionMnistPath());
  assert.ok(path.endsWith(join("data", "fashion-mnist-subset")), path);
  assert.equal(train.length, 10_000);
  assert.deepEqual(train.featureShape, [784]);
  assert.equal(train.features.length, 10_000 * 784);
  assert.equal(testSet.length, 2_000);
  assert.deepEqual(classHistogram(train), new Array(10).fill(1000));
  assert.deepEqual(classHistogram(testSet), new Array(10).fill(200));
  let min = Infinity;
  let max = -Infinity;
  for (const value of train.features) {
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  // Kept in the original order, so classes are interleaved rather than sorted.
  assert.notDeepEqual(Array.from(train.labels.subarray(0, 10)), new Array(10).fill(train.labels[0]));
});

test("hwc layout and auto fallback to the bundled subset", async () => {
  const data = await loadFashionMnist({ source: "auto", layout: "hwc", fullPath: missing });
  assert.equal(data.source, "bundled");
  assert.deepEqual(data.train.featureShape, [28, 28, 1]);
  assert.deepEqual(data.test.featureShape, [28, 28, 1]);
});

test("full source that is not installed names the package to install", async () => {
  await assert.rejects(loadFashionMnist({ source: "full", fullPath: missing }), (e: unknown) =>
    e instanceof DataError && /not installed at \/nonexistent\/fashion-mnist/.test(e.message) &&
    e.message.includes("apt-get install dataset-fashion-mnist"));
  await assert.rejects(loadFashionMnist({ source: "web" as "full" }), OptionsError);
  await assert.rejects(loadFashionMnist({ layout: "chw" as "flat" }), OptionsError);
});

test("full data: 60,000 train and 10,000 test images", { skip: !fullInstalled && "full Fashion-MNIST not installed" }, async () => {
  const data = await loadFashionMnist();
  assert.equal(data.source, "full");
  assert.equal(data.path, FASHION_MNIST_FULL_PATH);
  assert.equal(data.train.length, 60_000);
  assert.equal(data.test.length, 10_000);
  assert.deepEqual(classHistogram(data.train), new Array(10).fill(6000));
  assert.deepEqual(classHistogram(data.test), new Array(10).fill(1000));
});
