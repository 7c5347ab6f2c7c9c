import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { cnn, mlp, modelSpecSchema, parseModelSpec } from "../../src/model/spec.js";
import { OptionsError } from "../../src/errors.js";

function messageOf(body: () => unknown): string {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof OptionsError, `expected OptionsError, got ${String(error)}`);
    return error.message;
  }
  assert.fail("expected an OptionsError");
}

test("mlp() and cnn() return validated specs with their type", () => {
  assert.deepEqual(mlp({ inputShape: [784], hidden: [256, 256], classes: 10 }), {
    type: "mlp",
    inputShape: [784],
    hidden: [256, 256],
    classes: 10,
  });
  const spec = cnn({
    inputShape: [28, 28, 1],
    conv: [{ filters: 8, kernelSize: 3, pool: true }],
    dense: [32],
    classes: 10,
    activation: "gelu",
    dropout: 0.25,
    batchNorm: true,
    multiHead: true,
  });
  assert.equal(spec.type, "cnn");
  assert.deepEqual(spec.conv, [{ filters: 8, kernelSize: 3, pool: true }]);
});

test("every problem is listed as a readable `path: message` line", () => {
  const message = messageOf(() =>
    parseModelSpec({ type: "mlp", inputShape: [784], hidden: [256, -3], classes: 10, dropout: 1, extra: true }),
  );
  assert.match(message, /^invalid model spec:/);
  assert.match(message, /hidden\[1\]: hidden widths must be > 0 \(got -3\)/);
  assert.match(message, /dropout: dropout must be in \[0, 1\) \(got 1\)/);
  assert.match(message, /"extra"/);
});

test("cnn errors name the nested conv option", () => {
  const message = messageOf(() =>
    cnn({ inputShape: [28, 28, 1], conv: [{ filters: 8, kernelSize: 0 }], dense: [], classes: 10 }),
  );
  assert.match(message, /conv\[0\]\.kernelSize: kernelSize must be > 0 \(got 0\)/);
  assert.match(
    messageOf(() => parseModelSpec({ type: "cnn", inputShape: [28, 28], conv: [{ filters: 1, kernelSize: 1 }], dense: [], classes: 2 })),
    /inputShape: inputShape must be \[height, width, channels\]/,
  );
});

test("an unknown type, an unknown activation and bad JSON are OptionsErrors", () => {
  assert.match(messageOf(() => parseModelSpec({ type: "rnn" })), /type: type must be "mlp" or "cnn"/);
  assert.match(
    messageOf(() => mlp({ inputShape: [4], hidden: [], classes: 2, activation: "swish" as "relu" })),
    /activation: .*"relu"\|"tanh"\|"sigmoid"\|"gelu"/,
  );
  assert.match(messageOf(() => parseModelSpec("{not json")), /model spec is not valid JSON/);
  assert.match(messageOf(() => parseModelSpec(42)), /\(spec\): .*expected object/);
});

test("JSON text is accepted", () => {
  assert.deepEqual(parseModelSpec('{"type":"mlp","inputShape":[3],"hidden":[],"classes":2}'), {
    type: "mlp",
    inputShape: [3],
    hidden: [],
    classes: 2,
  });
});

test("the exported zod schema converts to a JSON Schema with both model types", () => {
  const schema = z.toJSONSchema(modelSpecSchema) as unknown as { oneOf?: { properties: { type: { const: string } } }[] };
  assert.deepEqual(schema.oneOf?.map((branch) => branch.properties.type.const), ["mlp", "cnn"]);
});

test("property: any valid mlp options round-trip unchanged; any dropout outside [0, 1) is rejected", () => {
  const width = fc.integer({ min: 1, max: 4096 });
  fc.assert(
    fc.property(
      fc.array(width, { minLength: 1, maxLength: 3 }),
      fc.array(width, { maxLength: 4 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (inputShape, hidden, classes, dropout) => {
        const options = { inputShape, hidden, classes, dropout };
        assert.deepEqual(mlp(options), { type: "mlp", ...options });
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.double({ min: 1, noNaN: true }), fc.double({ max: -Number.MIN_VALUE, noNaN: true }), fc.constant(Number.NaN)),
      (dropout) => {
        assert.throws(() => mlp({ inputShape: [2], hidden: [], classes: 2, dropout }), OptionsError);
      },
    ),
  );
});
