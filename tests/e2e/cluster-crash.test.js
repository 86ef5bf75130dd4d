// kill -9 at random moments on the Redis Cluster backend (issue 9, item 3; docs/RELIABILITY.md,
// "Crashes"): two profiled nodes on one Redis Cluster (3 primaries, 3 replicas, a password,
// redis_wait_replicas = 1), kept for the whole file, under sustained ingestion from 3 clients
// per node. Rounds of a profiled node killed (SIGKILL) and started again on its port, and rounds
// of a Redis primary killed, its replica promoted, the killed node started again as a replica;
// the victim, the moment (a seeded PRNG, its seed logged) and the down time are random.
//
// What the backend promises (docs/SCALING.md, "What is and is not guaranteed") and each round
// checks: every acknowledged event applied exactly once, read through both nodes. A batch
// whose request got no answer, or a 503, is sent again through the other node with the same
// insert_ids until acknowledged (faults.js's clients), and its retry applies nothing twice.
// Nothing is promised of a batch never acknowledged until the writers next need its keys (a
// read may show part of it meanwhile), so no client gives a batch up here: that is
// crash.test.js's check, on RocksDB.
//
// PROFILED_CRASH_ROUNDS multiplies the rounds; PROFILED_CRASH_SEED repeats a run's choices.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, SEED, sleep, startNodePair } from './harness.js';
import {
  assertExactlyOnce,
  assertOnlyRetryableFailures,
  clusterHealthy,
  clusterNodes,
  failureSummary,
  healthy,
  nodeDir,
  pinPort,
  portsOf,
  seededRandom,
  startLoad,
  startRedisNode,
  until,
} from './faults.js';

const PASSWORD = 'e2e-crash-pass';
const SCALE = Math.max(1, Number(process.env.PROFILED_CRASH_ROUNDS ?? 1));
const NODE_ROUNDS = 6 * SCALE;
const PRIMARY_ROUNDS = 3 * SCALE;

describe('kill -9 at random moments on Redis Cluster: every acknowledged event exactly once after each round', () => {
  let nodes = null;
  let a = null;
  let b = null;
  let load = null;
  before(async () => {
    nodes = await startNodePair({ projects: [SEED] }, { password: PASSWORD });
    ({ a, b } = nodes);
    pinPort(a);
    pinPort(b);
  });
  after(async () => {
    await load?.stopNow();
    await nodes?.dispose();
  });

  // One round: the load runs, `fault()` strikes a random moment after 20 batches were
  // acknowledged, the load goes on until 20 more are after `recovered()`, then it stops and
  // every user of the round reads exactly its acknowledged events through both nodes.
  async function round(random, tag, fault, recovered) {
    load = startLoad([a, b], { tag, random: random.next });
    await load.progressed(20, 'ingestion before the fault');
    await sleep(random.int(0, 1000));
    load.check();
    const t0 = Date.now();
    const what = await fault();
    await recovered();
    await load.progressed(20, 'ingestion after the recovery', 90000);
    await load.stop();
    assertOnlyRetryableFailures(load.stats);
    await healthy([a, b]);
    await assertExactlyOnce(load, [a, b]);
    const s = load.stats;
    return `${what}: ${s.batches} batches / ${s.events} events, ${s.retriedAcked} acknowledged after a request without an answer, slowest ${s.maxBatchMs} ms, failures ${JSON.stringify(failureSummary(s, t0).by)}`;
  }

  it(`${NODE_ROUNDS} rounds: a profiled node killed at a random moment, started again on its port`, async () => {
    const random = seededRandom('cluster crash: profiled nodes');
    const t0 = Date.now();
    const lines = [];
    for (let r = 0; r < NODE_ROUNDS; r++) {
      const [name, victim] = random.pick([['A', a], ['B', b]]);
      lines.push(await round(random, `node${r}`, async () => {
        const inflight = load.stats.inflight[name];
        await victim.kill9();
        // Down for a random while: its clients send through the other node meanwhile.
        const down = random.int(0, 2000);
        await sleep(down);
        await victim.restart();
        load.rehome();
        return `round ${r}: ${name} killed with ${inflight} requests under way, down ${down} ms`;
      }, async () => {}));
    }
    console.log(`profiled node kills, ${NODE_ROUNDS} rounds in ${((Date.now() - t0) / 1000).toFixed(1)} s:\n  ${lines.join('\n  ')}`);
  });

  it(`${PRIMARY_ROUNDS} rounds: a Redis primary killed at a random moment, its replica promoted, the node started again`, async () => {
    const random = seededRandom('cluster crash: Redis primaries');
    const t0 = Date.now();
    const lines = [];
    const cluster = nodes.cluster;
    for (let r = 0; r < PRIMARY_ROUNDS; r++) {
      let victim = null;
      let replica = null;
      let dir = null;
      lines.push(await round(random, `primary${r}`, async () => {
        const topology = await clusterNodes(cluster);
        victim = random.pick(topology.filter((n) => n.flags.includes('master') && n.slots > 0));
        replica = topology.find((n) => n.masterId === victim.id);
        assert.ok(replica, `a replica of ${victim.port}`);
        dir = nodeDir(cluster, victim.port);
        const killedAt = Date.now();
        process.kill(Number(fs.readFileSync(path.join(dir, 'redis.pid'), 'utf8').trim()), 'SIGKILL');
        const alive = portsOf(cluster).filter((p) => p !== victim.port);
        await until(async () => {
          load.check();
          const now = await clusterNodes(cluster, { skip: [victim.port] });
          const promoted = now.find((n) => n.id === replica.id);
          return promoted?.flags.includes('master') && promoted.slots === victim.slots && (await clusterHealthy(cluster, alive));
        }, 'the replica to be promoted and the cluster ok', { timeoutMs: 30000, everyMs: 100 });
        const failoverMs = Date.now() - killedAt;
        await startRedisNode(dir);
        return `round ${r}: primary ${victim.port} killed, failover ${failoverMs} ms`;
      }, async () => {
        await until(async () => {
          load.check();
          return clusterHealthy(cluster, portsOf(cluster));
        }, 'the killed node to rejoin as a linked replica', { timeoutMs: 60000, everyMs: 100 });
      }));
    }
    console.log(`Redis primary kills, ${PRIMARY_ROUNDS} rounds in ${((Date.now() - t0) / 1000).toFixed(1)} s:\n  ${lines.join('\n  ')}`);
  });
});
