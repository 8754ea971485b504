/**
 * The pool's scheduler (src/engine/fair-scheduler.ts) as accounting, no workers and no timing: which
 * waiting execution a free worker takes, the probation of installs that keep faulting costly, and
 * that a tenant alone keeps every worker busy. The clock is the test's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairScheduler, PENALISED_CONCURRENCY, WARM_LOOKAHEAD, type Owner } from '../../src/engine/fair-scheduler.js';

const attacker: Owner = { tenant: 'attacker', install: 'attacker-loop' };
const neighbour: Owner = { tenant: 'neighbour', install: 'neighbour-app' };
const third: Owner = { tenant: 'third', install: 'third-app' };

/** A scheduler driven like a pool of `workers`, on a clock the test moves. */
function pool(workers: number, options = { strikes: 2, penaltyMs: 60_000 }) {
  let now = 0;
  const s = new FairScheduler<string>(options, () => now);
  let free = workers;
  const running: { name: string; owner: Owner }[] = [];
  const started: string[] = [];
  const begin = (name: string, owner: Owner) => {
    s.started(owner);
    running.push({ name, owner });
    started.push(name);
    free--;
  };
  /** what an idle pool does with a new job: start it when a worker is free and it may, else queue */
  const submit = (owner: Owner, name: string) => {
    if (free > 0 && s.mayStart(owner)) begin(name, owner);
    else s.push(owner, name);
  };
  /** free workers take what the scheduler picks */
  const drain = () => {
    while (free > 0) {
      const next = s.take();
      if (!next) return;
      begin(next.item, next.owner);
    }
  };
  const end = (name: string, costly = false) => {
    const i = running.findIndex((r) => r.name === name);
    assert.ok(i >= 0, `${name} is not running`);
    const [done] = running.splice(i, 1);
    const probation = s.finished(done!.owner, costly);
    free++;
    drain();
    return probation;
  };
  return {
    s,
    started,
    submit,
    end,
    drain,
    running: () => running.map((r) => r.name),
    advance: (ms: number) => (now += ms),
    /** a worker out of service until `back()` (a replacement starting), charged to `owner` */
    replace(name: string, owner: Owner) {
      const i = running.findIndex((r) => r.name === name);
      running.splice(i, 1);
      const probation = s.finished(owner, true);
      s.charge(owner);
      return {
        probation,
        back: () => {
          s.discharge(owner);
          free++;
          drain();
        },
      };
    },
  };
}

test('a tenant alone uses every worker (work-conserving), with more waiting in order', () => {
  const p = pool(2);
  for (const n of ['a1', 'a2', 'a3', 'a4']) p.submit(attacker, n);
  assert.deepEqual(p.running(), ['a1', 'a2']);
  assert.equal(p.s.length, 2);
  p.end('a1');
  assert.deepEqual(p.running(), ['a2', 'a3'], 'a free worker never idles while its only tenant waits');
  p.end('a2');
  p.end('a3');
  p.end('a4');
  assert.deepEqual(p.started, ['a1', 'a2', 'a3', 'a4']);
  assert.equal(p.s.length, 0);
});

test('a free worker goes to the waiting tenant with the fewest running, before the older jobs of a tenant holding workers', () => {
  const p = pool(2);
  for (const n of ['a1', 'a2', 'a3', 'a4']) p.submit(attacker, n);
  p.submit(neighbour, 'n1');
  p.end('a1');
  assert.deepEqual(p.running(), ['a2', 'n1'], 'n1 overtakes a3 and a4, queued before it');
  p.submit(neighbour, 'n2');
  p.end('n1');
  // neighbour 0 running, attacker 1: the neighbour again
  assert.deepEqual(p.running(), ['a2', 'n2']);
  p.end('a2');
  // attacker 0, neighbour 1: now the attacker's turn
  assert.deepEqual(p.running(), ['n2', 'a3']);
});

test('no tenant holds more than its share while others wait: three tenants on three workers end up with one each', () => {
  const p = pool(3);
  for (let i = 1; i <= 6; i++) p.submit(attacker, `a${i}`);
  p.submit(neighbour, 'n1');
  p.submit(neighbour, 'n2');
  p.submit(third, 't1');
  assert.deepEqual(p.running(), ['a1', 'a2', 'a3']);
  p.end('a1');
  p.end('a2');
  // the two freed workers: neighbour (0 running) first, then third (0 running, queued later than n1 but its tenant runs nothing)
  assert.deepEqual(p.running(), ['a3', 'n1', 't1']);
  p.end('a3');
  // all three hold one; the freed worker goes back to the tenant that freed it (0 running): the attacker
  assert.deepEqual(p.running(), ['n1', 't1', 'a4']);
  assert.equal(p.s.running('attacker'), 1);
});

test('among tenants running the same number, the oldest waiting job goes first', () => {
  const p = pool(1);
  p.submit(third, 'busy');
  p.submit(neighbour, 'n1');
  p.submit(attacker, 'a1');
  p.submit(neighbour, 'n2');
  p.end('busy');
  assert.deepEqual(p.running(), ['n1']);
  p.end('n1');
  assert.deepEqual(p.running(), ['a1'], 'then the other tenant, whose job is older than n2');
});

test('a warm job near the head of the chosen tenant goes first, not one past the lookahead or of another tenant', () => {
  const s = new FairScheduler<string>();
  for (let i = 0; i < WARM_LOOKAHEAD; i++) s.push(neighbour, `cold${i}`);
  s.push(neighbour, 'warm-far');
  s.push(attacker, 'warm-other-tenant');
  s.started(attacker);
  assert.equal(s.take((item) => item.startsWith('warm'))?.item, 'cold0');
  const near = new FairScheduler<string>();
  near.push(neighbour, 'cold');
  near.push(neighbour, 'warm');
  assert.equal(near.take((item) => item === 'warm')?.item, 'warm');
  assert.equal(near.take()?.item, 'cold');
});

test('overtakenBy counts the jobs of other tenants that started while one waited', () => {
  const s = new FairScheduler<string>();
  s.push(attacker, 'a1');
  s.push(neighbour, 'n1');
  s.push(attacker, 'a2');
  const first = s.take()!;
  s.started(first.owner);
  assert.equal(first.item, 'a1');
  assert.equal(first.overtakenBy, 0);
  s.finished(first.owner, false);
  // both tenants run nothing now: n1 is older than a2
  const second = s.take()!;
  s.started(second.owner);
  assert.equal(second.item, 'n1');
  assert.equal(second.overtakenBy, 1, 'a1 started while n1 waited');
  const third = s.take()!;
  assert.equal(third.item, 'a2');
  assert.equal(third.overtakenBy, 1, "n1 started while a2 waited (a1, its own tenant's, does not count)");
});

test("costly faults put an install on probation: one execution at a time, after every other tenant's work, even alone", () => {
  const p = pool(2);
  for (const n of ['a1', 'a2', 'a3', 'a4', 'a5']) p.submit(attacker, n);
  assert.equal(p.end('a1', true), false, 'one strike is not enough');
  assert.equal(p.s.penalised(attacker.install), false);
  assert.deepEqual(p.running(), ['a2', 'a3']);
  assert.equal(p.end('a2', true), true, 'the second strike within the window starts probation');
  assert.equal(p.s.penalised(attacker.install), true);
  assert.deepEqual(p.running(), ['a3'], 'not work-conserving for an install on probation: one worker stays free');
  assert.equal(PENALISED_CONCURRENCY, 1);
  assert.equal(p.s.mayStart(attacker), false);
  // a neighbour coming now starts at once on the worker left free
  p.submit(neighbour, 'n1');
  assert.deepEqual(p.running(), ['a3', 'n1']);
  p.submit(neighbour, 'n2');
  p.end('a3');
  assert.deepEqual(p.running(), ['n1', 'n2'], 'a waiting neighbour job goes before the penalised install, though that runs nothing');
  p.end('n1');
  assert.deepEqual(p.running(), ['n2', 'a4'], 'with nobody else waiting, the penalised install gets its one');
  p.end('n2');
  assert.deepEqual(p.running(), ['a4']);
});

test("other installs of the same tenant are not penalised; their jobs go before the penalised one's", () => {
  const p = pool(2);
  const sibling: Owner = { tenant: 'attacker', install: 'attacker-good-app' };
  p.submit(attacker, 'a1');
  p.submit(attacker, 'a2');
  p.end('a1', true);
  p.end('a2', true);
  assert.equal(p.s.penalised(attacker.install), true);
  p.submit(attacker, 'a3');
  p.submit(attacker, 'a4');
  p.submit(sibling, 'g1');
  p.submit(sibling, 'g2');
  assert.deepEqual(p.running(), ['a3', 'g1']);
  p.end('a3');
  assert.deepEqual(p.running(), ['g1', 'g2']);
});

test('several installs of one tenant on probation share the one execution: hostile installs do not add up', () => {
  const p = pool(3);
  const second: Owner = { tenant: 'attacker', install: 'attacker-grow' };
  for (const owner of [attacker, second]) {
    p.submit(owner, `${owner.install}-1`);
    p.submit(owner, `${owner.install}-2`);
    p.end(`${owner.install}-1`, true);
    p.end(`${owner.install}-2`, true);
    assert.equal(p.s.penalised(owner.install), true);
  }
  for (const n of ['a', 'b', 'c']) p.submit(attacker, `loop-${n}`);
  for (const n of ['a', 'b', 'c']) p.submit(second, `grow-${n}`);
  assert.deepEqual(p.running(), ['loop-a'], 'one worker for both installs on probation; two stay free');
  p.submit(neighbour, 'n1');
  assert.deepEqual(p.running(), ['loop-a', 'n1']);
  p.end('loop-a');
  assert.deepEqual(p.running(), ['n1', 'loop-b']);
  assert.equal(p.s.mayStart(second), false);
});

test('probation ends penaltyMs after the latest costly fault; strikes older than penaltyMs do not add up', () => {
  const p = pool(2, { strikes: 2, penaltyMs: 1_000 });
  p.submit(attacker, 'a1');
  p.end('a1', true);
  p.advance(1_001);
  p.submit(attacker, 'a2');
  assert.equal(p.end('a2', true), false, 'the first strike has expired');
  p.advance(500);
  p.submit(attacker, 'a3');
  assert.equal(p.end('a3', true), true);
  p.advance(900);
  p.submit(attacker, 'a4');
  p.end('a4', true); // on probation already: extends it
  p.advance(900);
  assert.equal(p.s.penalised(attacker.install), true, '1 800 ms after probation began, 900 after the latest fault');
  p.advance(101);
  assert.equal(p.s.penalised(attacker.install), false);
  p.submit(attacker, 'a5');
  p.submit(attacker, 'a6');
  assert.deepEqual(p.running(), ['a5', 'a6'], 'both workers again');
});

test('strikes 0 turns the penalty off', () => {
  const p = pool(2, { strikes: 0, penaltyMs: 60_000 });
  for (const n of ['a1', 'a2', 'a3', 'a4', 'a5']) p.submit(attacker, n);
  for (const n of ['a1', 'a2', 'a3']) assert.equal(p.end(n, true), false);
  assert.equal(p.s.penalised(attacker.install), false);
  assert.deepEqual(p.running(), ['a4', 'a5']);
});

test('a replacement worker counts as running for the owner whose execution overran it until it is ready', () => {
  const p = pool(2, { strikes: 0, penaltyMs: 60_000 });
  p.submit(attacker, 'a1');
  p.submit(attacker, 'a2');
  p.submit(attacker, 'a3');
  p.submit(neighbour, 'n1');
  const w1 = p.replace('a1', attacker);
  assert.equal(p.s.running('attacker'), 2, "a2 and the replacement of a1's worker");
  const w2 = p.replace('a2', attacker);
  assert.equal(p.s.running('attacker'), 2);
  w1.back();
  assert.deepEqual(p.running(), ['n1'], 'the first worker back goes to the neighbour: the attacker still holds the other');
  w2.back();
  assert.deepEqual(p.running(), ['n1', 'a3']);
  assert.equal(p.s.running('attacker'), 1);
});

test('state of tenants and installs with nothing running, waiting or remembered is dropped', () => {
  const s = new FairScheduler<string>({ strikes: 2, penaltyMs: 1_000 }, () => 0);
  s.push(neighbour, 'n1');
  const n1 = s.take()!;
  s.started(n1.owner);
  s.finished(n1.owner, false);
  const internals = s as unknown as { tenants: Map<string, unknown>; installs: Map<string, unknown> };
  assert.equal(internals.tenants.size, 0);
  assert.equal(internals.installs.size, 0);
  s.started(attacker);
  s.finished(attacker, true);
  assert.equal(internals.installs.size, 1, 'a strike is remembered');
  assert.deepEqual(s.drainAll(), []);
});
