// Faults of the whole deployment: two profiled nodes on one Redis Cluster (3 primaries, 3
// replicas, a password, redis_wait_replicas = 1) under sustained ingestion, while a Redis
// primary is killed (kill -9) and started again, a profiled node is killed (kill -9), or 500
// slots migrate between primaries (redis-cli --cluster reshard).
//
// Every test asserts the same thing (docs/SCALING.md, "What is and is not guaranteed"): every
// acknowledged event's effect exactly once. Clients behave like the SDKs: each event has a
// unique insert_id and adds 1 to its user's `n` ($add); a batch answered anything but 200 (or
// not answered) is sent again, the same events with the same insert_ids, through the other node,
// until it is acknowledged. At the end, for every user, `n` read through each node equals the
// number of its events acknowledged, and no batch stayed unacknowledged. Each test has its own
// cluster and nodes; all are stopped and removed after it, whatever happened. The clients and
// the checks are faults.js's (cluster-crash.test.js repeats these faults in rounds).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, SEED, sleep, startNodePair, uid } from './harness.js';
import {
  assertExactlyOnce,
  assertOnlyRetryableFailures,
  clusterHealthy,
  clusterNodes,
  errorLines,
  failureSummary,
  healthy,
  nodeDir,
  portsOf,
  redisCli,
  slowestAfter,
  startLoad,
  startRedisNode,
  until,
} from './faults.js';

const PASSWORD = 'e2e-fault-pass';

describe('cluster faults under sustained ingestion: every acknowledged event exactly once', () => {
  describe('a Redis primary killed (kill -9), its replica promoted, then the killed node started again', () => {
    let nodes = null;
    let cluster = null;
    let a = null;
    let b = null;
    let load = null;
    before(async () => {
      nodes = await startNodePair({ projects: [SEED] }, { password: PASSWORD });
      ({ cluster, a, b } = nodes);
    });
    after(async () => {
      await load?.stopNow();
      await nodes?.dispose();
    });

    it('exactly once on both nodes; writes to the promoted primary answer 503 until the killed node is its replica again', async () => {
      load = startLoad([a, b], { tag: 'primary' });
      await load.progressed(40, 'ingestion before the fault');

      // A primary, its pid, and its replica.
      const topology = await clusterNodes(cluster);
      const victim = topology.find((n) => n.flags.includes('master') && n.slots > 0);
      const replica = topology.find((n) => n.masterId === victim.id);
      assert.ok(replica, `a replica of ${victim.port}`);
      const dir = nodeDir(cluster, victim.port);
      // Whether it holds the project's meta hash (definitions and their version, which every
      // group's definitions poll locks): then every write of the project waits on it.
      const meta = await redisCli(cluster, victim.port, ['--scan', '--pattern', `*mh*${SEED.id}`]);
      const holdsMeta = meta.stdout.trim() !== '';
      const pid = Number(fs.readFileSync(path.join(dir, 'redis.pid'), 'utf8').trim());
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const alive = portsOf(cluster).filter((p) => p !== victim.port);

      // The failover: the replica serves the slots, every other node says ok.
      await until(async () => {
        load.check();
        const now = await clusterNodes(cluster, { skip: [victim.port] });
        const promoted = now.find((n) => n.id === replica.id);
        return promoted?.flags.includes('master') && promoted.slots === victim.slots && (await clusterHealthy(cluster, alive));
      }, 'the replica to be promoted and the cluster ok', { timeoutMs: 30000 });
      const failoverMs = Date.now() - killedAt;

      // The promoted primary has no replica: with redis_wait_replicas = 1 writes to its slots
      // fail. A probe batch of 20 new users (keys in every primary's slots, surely) answers 503
      // through either node; its events may be partly committed (a commit whose intent is
      // stored), and are sent again after the recovery: each of its users must count 1.
      const failoverAt = Date.now();
      const probeUsers = Array.from({ length: 20 }, (_, i) => uid(`probe-u${i}`));
      const probe = probeUsers.map((u, i) => ({ user_id: u, event_type: 'Probe', insert_id: `probe-${process.pid}-${i}`, user_properties: { $add: { n: 1 } } }));
      const probed = {};
      for (const [name, server] of [['A', a], ['B', b]]) {
        const t0 = Date.now();
        const res = await server.track(probe);
        probed[name] = `${res.status} in ${Date.now() - t0} ms: ${res.text.trim()}`;
        assert.equal(res.status, 503, `the probe through ${name} after the failover: ${res.status} ${res.text}`);
        assert.equal(res.json?.code, 503, res.text);
      }
      // Ingestion goes on for 2 s more, then the killed node starts again with its own config
      // (it rejoins as the replica of the promoted one).
      await sleep(2000);
      load.check();
      const restartAt = Date.now();
      await startRedisNode(dir);
      await until(async () => {
        load.check();
        const repl = await redisCli(cluster, victim.port, ['info', 'replication']);
        return /^role:slave/m.test(repl.stdout) && /^master_link_status:up/m.test(repl.stdout) && (await clusterHealthy(cluster, portsOf(cluster)));
      }, 'the killed node to rejoin as a linked replica', { timeoutMs: 60000 });
      const rejoinMs = Date.now() - restartAt;
      // Writes succeed again everywhere: the probe, sent again, and 60 more batches; then the
      // clients stop.
      await until(async () => (await a.track(probe)).status === 200, 'the probe to be acknowledged after the rejoin', { timeoutMs: 60000, everyMs: 200 });
      await load.progressed(60, 'ingestion after the rejoin');
      const recoveredAt = Date.now();
      await load.stop();

      // What the attempts sent between the failover and the restart got.
      const between = {};
      for (const x of load.stats.attempts) {
        if (x.sentAt >= failoverAt && x.sentAt < restartAt) between[x.status] = (between[x.status] ?? 0) + 1;
      }
      const summary = failureSummary(load.stats, killedAt);
      console.log(
        `primary kill: the victim ${holdsMeta ? 'holds' : 'does not hold'} the project's meta hash; failover ${failoverMs} ms; the probe after it: ${JSON.stringify(probed)}; load attempts sent after the failover, before the restart: ${JSON.stringify(between)}; rejoin ${rejoinMs} ms after the restart; ` +
          `${load.stats.batches} batches / ${load.stats.events} events acknowledged; slowest batch ${JSON.stringify(load.stats.slowest)} ms after the start; ` +
          `failures (ms after the kill): ${JSON.stringify(summary)}; last failure ${summary.last_ms} ms, recovered ${recoveredAt - killedAt} ms after the kill; ` +
          `errors logged: A ${JSON.stringify(errorLines(a))}, B ${JSON.stringify(errorLines(b))}`,
      );
      assertOnlyRetryableFailures(load.stats);
      await healthy([a, b]);
      await assertExactlyOnce(load, [a, b]);
      for (const user of probeUsers) {
        for (const [name, server] of [['A', a], ['B', b]]) {
          assert.deepEqual((await server.userData({ user_id: user })).user_properties, { n: 1 }, `probe user ${user} through ${name}`);
        }
      }
    });
  });

  describe('a profiled node killed (kill -9)', () => {
    let nodes = null;
    let cluster = null;
    let a = null;
    let b = null;
    let load = null;
    before(async () => {
      nodes = await startNodePair({ projects: [SEED] }, { password: PASSWORD });
      ({ cluster, a, b } = nodes);
    });
    after(async () => {
      await load?.stopNow();
      await nodes?.dispose();
    });

    it("exactly once: B's clients move to A, B's locks are taken over once its lease expires; B started again reads the same", async () => {
      load = startLoad([a, b], { tag: 'node' });
      await load.progressed(60, 'ingestion before the fault');
      // Killed while it has requests under way (so, most likely, locks held and maybe an intent
      // stored but not applied).
      await until(() => load.stats.inflight.B >= 2, 'two requests under way through B', { timeoutMs: 20000, everyMs: 1 });
      const killedAt = Date.now();
      await b.kill9();
      // The lease is 10 s: keys B held locked wait until then. The load goes on through A until
      // 2 s after it, and 30 more batches are acknowledged.
      await sleep(12000);
      load.check();
      await load.progressed(30, 'ingestion through A after the lease expired');
      await load.stop();

      const summary = failureSummary(load.stats, killedAt);
      const a503 = load.stats.failures.filter((f) => f.node === 'A' && f.status === 503).map((f) => f.at - killedAt);
      console.log(
        `profiled kill: ${load.stats.batches} batches / ${load.stats.events} events acknowledged; slowest batch ${JSON.stringify(load.stats.slowest)} (startedAt ms after the load started; kill at ${killedAt - load.stats.t0} ms); ` +
          `A answered 503 from ${a503.length ? Math.min(...a503) : '-'} to ${a503.length ? Math.max(...a503) : '-'} ms after the kill; ` +
          `slowest batch acknowledged by A after the kill: ${slowestAfter(load.stats, killedAt)} ms; failures: ${JSON.stringify(summary)}; A's errors: ${JSON.stringify(errorLines(a))}`,
      );
      assertOnlyRetryableFailures(load.stats);
      // Read through A, then through B started again (a new node id, same config).
      await b.restart();
      await healthy([a, b]);
      await assertExactlyOnce(load, [a, b]);
    });
  });

  describe('500 slots migrated between primaries (redis-cli --cluster reshard)', () => {
    let nodes = null;
    let cluster = null;
    let a = null;
    let b = null;
    let load = null;
    before(async () => {
      nodes = await startNodePair({ projects: [SEED] }, { password: PASSWORD });
      ({ cluster, a, b } = nodes);
    });
    after(async () => {
      await load?.stopNow();
      await nodes?.dispose();
    });

    it('exactly once, and every batch acknowledged, while 500 slots move there and back', async () => {
      load = startLoad([a, b], { tag: 'reshard' });
      await load.progressed(60, 'ingestion before the migration');
      const masters = (await clusterNodes(cluster)).filter((n) => n.flags.includes('master') && n.slots > 0);
      const [from, to] = masters;
      const reshard = async (src, dst) => {
        const t0 = Date.now();
        const r = await redisCli(
          cluster,
          src.port,
          ['--cluster', 'reshard', `127.0.0.1:${src.port}`, '--cluster-from', src.id, '--cluster-to', dst.id, '--cluster-slots', '500', '--cluster-yes'],
          { timeoutMs: 120000 },
        );
        assert.equal(r.code, 0, `reshard ${src.port} -> ${dst.port} exited ${r.code}:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
        return Date.now() - t0;
      };
      const windows = [];
      const startedAt = Date.now();
      const there = await reshard(from, to);
      windows.push([startedAt, startedAt + there]);
      load.check();
      const mid = await clusterNodes(cluster);
      assert.equal(mid.find((n) => n.id === to.id).slots, to.slots + 500);
      assert.equal(mid.find((n) => n.id === from.id).slots, from.slots - 500);
      await load.progressed(30, 'ingestion between the migrations');
      const backAt = Date.now();
      const back = await reshard(to, from);
      windows.push([backAt, backAt + back]);
      await load.progressed(30, 'ingestion after the migrations');
      await load.stop();

      const check = await redisCli(cluster, from.port, ['--cluster', 'check', `127.0.0.1:${from.port}`]);
      assert.match(check.stdout, /\[OK\] All 16384 slots covered/, check.stdout);
      assert.doesNotMatch(check.stdout, /\[WARNING\]|\[ERR\]/, check.stdout);
      const during = {};
      for (const x of load.stats.attempts) {
        if (windows.some(([lo, hi]) => x.sentAt >= lo && x.sentAt < hi)) during[x.status] = (during[x.status] ?? 0) + 1;
      }
      const summary = failureSummary(load.stats, startedAt);
      console.log(
        `reshard: 500 slots there in ${there} ms, back in ${back} ms; ${load.stats.batches} batches / ${load.stats.events} events acknowledged; ` +
          `slowest batch ${JSON.stringify(load.stats.slowest)}; failures (ms after the first reshard began): ${JSON.stringify(summary)}; ` +
          `attempts sent during a migration: ${JSON.stringify(during)}; errors logged: A ${JSON.stringify(errorLines(a))}, B ${JSON.stringify(errorLines(b))}`,
      );
      assertOnlyRetryableFailures(load.stats);
      await healthy([a, b]);
      await assertExactlyOnce(load, [a, b]);
    });
  });
});
