import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AshaScheduler, ashaRungs } from "../../src/tuning/asha.js";
import { gridPoints, gridSearch, randomSearch, type Scheduler, type TrialRequest } from "../../src/tuning/scheduler.js";
import { runSearch, bestOf } from "../../src/tuning/search.js";
import { gridValues, inDomain, toSearchSpace, type SearchSpace } from "../../src/tuning/search_space.js";
import { OptionsError } from "../../src/errors.js";

const space: SearchSpace = toSearchSpace({
  "optimizer.learningRate": { logUniform: [1e-3, 0.5] },
  "optimizer.momentum": { choice: [0, 0.9, 0.99] },
  alpha: { uniform: [0, 1] },
  memorySize: { int: [10, 20] },
  "optimizer.name": "sgd",
});

/** Every request a scheduler gives when each run is told at once with `score(request)`. */
async function requestsOf(scheduler: Scheduler, score: (r: TrialRequest) => number, concurrency = 1): Promise<TrialRequest[]> {
  const runs = await runSearch(scheduler, async (r) => score(r), { concurrency, score: (s) => s });
  return runs.map((r) => r.request);
}

test("random search: every value within its domain, N trials, ids 0..N-1", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 20 }), async (seed, trials) => {
      const requests = await requestsOf(randomSearch(space, { trials, seed }), () => 0);
      assert.deepEqual(requests.map((r) => r.trialId), Array.from({ length: trials }, (_, i) => i));
      for (const r of requests) {
        assert.equal(r.epochs, undefined);
        for (const [key, domain] of space) assert.ok(inDomain(domain, r.params[key]!), `${key} = ${r.params[key]} outside its domain`);
      }
    }),
    { numRuns: 50 },
  );
});

test("random search is seeded: same seed same trials; another seed other trials; initial settings first; log-uniform spread evenly over the decades", async () => {
  const a = await requestsOf(randomSearch(space, { trials: 6, seed: 7 }), () => 0);
  const b = await requestsOf(randomSearch(space, { trials: 6, seed: 7 }), () => Math.random());
  const c = await requestsOf(randomSearch(space, { trials: 6, seed: 8 }), () => 0);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((r) => r.params), c.map((r) => r.params));
  const first = { ...a[3]!.params, alpha: 0.25 };
  const d = await requestsOf(randomSearch(space, { trials: 6, seed: 7, initial: [first] }), () => 0);
  assert.deepEqual(d[0]!.params, first);
  assert.deepEqual(d.slice(1), a.slice(1), "the drawn trials do not depend on the initial ones");
  // Log-uniform draws spread over the decades, not bunched at the top.
  const lrs = (await requestsOf(randomSearch(space, { trials: 400, seed: 1 }), () => 0)).map((r) => r.params["optimizer.learningRate"] as number);
  const below = lrs.filter((lr) => lr < Math.sqrt(1e-3 * 0.5)).length / lrs.length;
  assert.ok(below > 0.4 && below < 0.6, `half the draws below the geometric mean, got ${below}`);
});

test("grid search covers the product of the entries' grid values exactly once", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 4 }), async (points) => {
      const requests = await requestsOf(gridSearch(space, { points }), () => 0);
      const sizes = space.map(([, d]) => gridValues(d, points).length);
      assert.equal(requests.length, sizes.reduce((a, b) => a * b, 1));
      const keys = new Set(requests.map((r) => JSON.stringify(r.params)));
      assert.equal(keys.size, requests.length, "no point twice");
      for (const [key, domain] of space) {
        const seen = new Set(requests.map((r) => r.params[key]));
        assert.deepEqual([...seen].sort(), [...gridValues(domain, points)].sort(), `${key}: every grid value`);
      }
    }),
    { numRuns: 4 },
  );
  const values = gridValues({ kind: "logUniform", low: 1e-3, high: 1e-1 }, 3);
  assert.equal(values[0], 1e-3);
  assert.ok(Math.abs((values[1] as number) - 1e-2) < 1e-12);
  assert.equal(values[2], 1e-1);
  assert.deepEqual(gridValues({ kind: "int", low: 1, high: 3 }, 5), [1, 2, 3]);
  assert.deepEqual(gridValues({ kind: "int", low: 0, high: 100 }, 3), [0, 50, 100]);
  assert.equal(gridPoints(space, 2).length, 2 * 3 * 2 * 2 * 1);
  assert.throws(() => gridSearch(space, { points: 2, trials: 5 }), (e: Error) => e instanceof OptionsError && /every point of its grid, 24 here/.test(e.message));
});

test("ASHA rungs: minEpochs * eta^k below maxEpochs, then maxEpochs; bad settings refused", () => {
  assert.deepEqual(ashaRungs(1, 9, 3), [1, 3, 9]);
  assert.deepEqual(ashaRungs(1, 10, 3), [1, 3, 9, 10]);
  assert.deepEqual(ashaRungs(2, 16, 2), [2, 4, 8, 16]);
  assert.deepEqual(ashaRungs(5, 5, 3), [5]);
  assert.throws(() => ashaRungs(4, 3, 3), /maxEpochs \(3\) must be an integer >= minEpochs \(4\)/);
  assert.throws(() => ashaRungs(1, 9, 1), /reduction factor must be an integer >= 2/);
});

test("ASHA promotes the top 1/eta of each rung, exactly as specified (9 settings, eta 3, 1/3/9 epochs, one at a time)", async () => {
  // Settings given in order with known scores: x = 5 1 8 3 9 2 7 4 6; score = x whatever the epochs.
  const xs = [5, 1, 8, 3, 9, 2, 7, 4, 6];
  const one = toSearchSpace({ x: { int: [0, 10] } });
  const asha = new AshaScheduler(one, { trials: 9, seed: 0, reductionFactor: 3, minEpochs: 1, maxEpochs: 9, initial: xs.map((x) => ({ x })) });
  const requests = await requestsOf(asha, (r) => r.params["x"] as number);
  // Worked by hand from the rule: after 3 results at rung 0 the best (x=8, trial 2) goes up; after 5, x=9 (trial 4);
  // after 9, x=7 (trial 6) joins rung 1; its 3 results promote its best (trial 4) to the 9-epoch rung.
  assert.deepEqual(
    requests.map((r) => [r.trialId, r.rung, r.epochs]),
    [[0, 0, 1], [1, 0, 1], [2, 0, 1], [2, 1, 3], [3, 0, 1], [4, 0, 1], [4, 1, 3], [5, 0, 1], [6, 0, 1], [7, 0, 1], [8, 0, 1], [6, 1, 3], [4, 2, 9]],
  );
  const outcomes = requests.map((r) => ({ trialId: r.trialId, epochs: r.epochs!, status: "ok" as const, x: r.params["x"] as number }));
  assert.equal(bestOf(outcomes, (o) => o.x)!.trialId, 4);
});

/** The ASHA rule checked on any run: budgets per rung, and every promotion from the top 1/eta of the results its rung had then. */
function checkAshaRun(requests: TrialRequest[], scores: Map<number, number>, eta: number, rungs: number[], trials: number): void {
  const told: Array<Array<{ trialId: number; score: number }>> = rungs.map(() => []);
  const promoted = rungs.map(() => new Set<number>());
  for (const r of requests) {
    assert.equal(r.epochs, rungs[r.rung], "a rung's budget");
    if (r.rung > 0) {
      const below = [...told[r.rung - 1]!].sort((a, b) => b.score - a.score || a.trialId - b.trialId);
      const top = below.slice(0, Math.floor(below.length / eta)).map((t) => t.trialId);
      assert.ok(top.includes(r.trialId), `trial ${r.trialId} promoted to rung ${r.rung} from the top 1/${eta} of rung ${r.rung - 1}`);
      assert.ok(!promoted[r.rung - 1]!.has(r.trialId), "promoted once");
      promoted[r.rung - 1]!.add(r.trialId);
    }
    told[r.rung]!.push({ trialId: r.trialId, score: scores.get(r.trialId)! });
  }
  assert.equal(new Set(requests.filter((r) => r.rung === 0).map((r) => r.trialId)).size, trials, "every setting started");
  // At the end nothing promotable is left behind.
  for (let k = 0; k < rungs.length - 1; k++) {
    const ranked = [...told[k]!].sort((a, b) => b.score - a.score || a.trialId - b.trialId);
    for (const t of ranked.slice(0, Math.floor(ranked.length / eta))) assert.ok(promoted[k]!.has(t.trialId), `trial ${t.trialId} of rung ${k} was promoted`);
  }
}

test("ASHA property: on random objectives and settings, budgets and promotions follow the rule; same seed, same run", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 2, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 0, max: 1000 }),
      async (trials, eta, minEpochs, extra, seed) => {
        const maxEpochs = minEpochs + extra;
        const make = () => new AshaScheduler(space, { trials, seed, reductionFactor: eta, minEpochs, maxEpochs });
        const objective = (r: TrialRequest) => (r.params["alpha"] as number) - Math.abs(Math.log10(r.params["optimizer.learningRate"] as number) + 2);
        const requests = await requestsOf(make(), objective);
        const scores = new Map(requests.map((r) => [r.trialId, objective(r)]));
        checkAshaRun(requests, scores, eta, ashaRungs(minEpochs, maxEpochs, eta), trials);
        assert.deepEqual(await requestsOf(make(), objective), requests, "deterministic");
      },
    ),
    { numRuns: 60 },
  );
});

test("ASHA with 3 runs at once still follows the rule, and never promotes a failed run", async () => {
  const objective = (r: TrialRequest) => (r.trialId % 4 === 0 ? Number.NEGATIVE_INFINITY : r.params["alpha"] as number);
  const scheduler = new AshaScheduler(space, { trials: 12, seed: 3, reductionFactor: 2, minEpochs: 1, maxEpochs: 8 });
  // Runs finish out of order: each takes a time of its own.
  const runs = await runSearch(scheduler, (r) => new Promise<number>((done) => setTimeout(() => done(objective(r)), (r.trialId * 7) % 5)), { concurrency: 3, score: (s) => s });
  const requests = runs.map((r) => r.request);
  assert.ok(requests.some((r) => r.rung > 0));
  assert.ok(requests.every((r) => r.rung === 0 || r.trialId % 4 !== 0), "failed settings stay at rung 0");
});
