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
// cluster and nodes; all are stopped and removed after it, whatever happened.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, runAsync, SEED, sleep, startNodePair, uid } from './harness.js';

const PASSWORD = 'e2e-fault-pass';
const USERS = 16; // shared by every client, so that the nodes contend for the same keys
const CLIENTS_PER_NODE = 3;
const BATCH_DEADLINE_MS = 90000; // a batch not acknowledged by then fails the test

// ---- Redis Cluster helpers ----

// Runs redis-cli against one node with the cluster's password; resolves to {code, stdout, stderr}.
function redisCli(cluster, port, args, { timeoutMs = 30000 } = {}) {
  return runAsync('redis-cli', ['--no-auth-warning', '-a', cluster.password, '-h', '127.0.0.1', '-p', String(port), ...args], { timeoutMs });
}

const portsOf = (cluster) => cluster.nodes.map((n) => Number(n.split(':')[1]));

// CLUSTER NODES as seen by the first node that answers (skipping `skip` ports):
// [{id, port, flags, masterId, slots}] where slots counts the slots it serves.
async function clusterNodes(cluster, { skip = [] } = {}) {
  for (const port of portsOf(cluster)) {
    if (skip.includes(port)) continue;
    const r = await redisCli(cluster, port, ['cluster', 'nodes']);
    if (r.code !== 0 || !/master/.test(r.stdout)) continue;
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const f = line.split(' ');
        let slots = 0;
        for (const s of f.slice(8)) {
          if (s.startsWith('[')) continue; // a slot being migrated or imported
          const [lo, hi] = s.split('-').map(Number);
          slots += (hi ?? lo) - lo + 1;
        }
        return { id: f[0], port: Number(f[1].split(':')[1].split('@')[0]), flags: f[2].split(','), masterId: f[3], slots };
      });
  }
  throw new Error('no node of the cluster answers CLUSTER NODES');
}

// The node folder (DIR/node-N) of the node on `port`.
function nodeDir(cluster, port) {
  for (const n of fs.readdirSync(cluster.dir)) {
    const file = path.join(cluster.dir, n, 'port');
    if (/^node-\d+$/.test(n) && fs.existsSync(file) && Number(fs.readFileSync(file, 'utf8').trim()) === port) {
      return path.join(cluster.dir, n);
    }
  }
  throw new Error(`no node folder for port ${port} in ${cluster.dir}`);
}

// Polls `fn` every `everyMs` until it is truthy; throws with `what` after `timeoutMs`.
async function until(fn, what, { timeoutMs = 30000, everyMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// Every node on `ports` says cluster_state:ok and, if a replica, that its link is up.
async function clusterHealthy(cluster, ports) {
  for (const port of ports) {
    const info = await redisCli(cluster, port, ['cluster', 'info']);
    if (info.code !== 0 || !/^cluster_state:ok/m.test(info.stdout)) return false;
    const repl = await redisCli(cluster, port, ['info', 'replication']);
    if (repl.code !== 0) return false;
    if (/^role:slave/m.test(repl.stdout) && !/^master_link_status:up/m.test(repl.stdout)) return false;
  }
  return true;
}

// ---- the load: clients that retry like the SDKs ----

// Starts `CLIENTS_PER_NODE` clients per node, sending batches of 1-3 events (each a unique
// insert_id and `$add n 1` for one of USERS users) until stop(). A batch is sent again, same
// events, through the other node after any answer but 200 or no answer, until acknowledged;
// a connection error makes the client send through the other node from then on (its node is
// gone). Every failed attempt is recorded with its time, node and status or error.
function startLoad(nodes, { project = SEED, tag = 'load' } = {}) {
  const names = new Map(nodes.map((s, i) => [s, 'AB'[i]]));
  const users = Array.from({ length: USERS }, (_, i) => uid(`${tag}-u${i}`));
  const acked = new Map(users.map((u) => [u, 0]));
  const stats = {
    t0: Date.now(),
    batches: 0,
    events: 0,
    failures: [], // {at, node, what, status}
    attempts: [], // {sentAt, at, node, status} of every attempt
    acks: [], // {startedAt, at} of every batch: its first attempt, its acknowledgement
    maxBatchMs: 0,
    slowest: null, // {startedAt, ms, attempts}
    lastAckAt: 0,
    inflight: { A: 0, B: 0 }, // requests under way, by node
  };
  let stopping = false;
  let aborted = false; // after a failure: clients give up at once (cleanup)
  let seq = 0;
  const other = (s) => (s === nodes[0] ? nodes[1] : nodes[0]);

  async function client(home) {
    while (!stopping) {
      const n = 1 + Math.floor(Math.random() * 3);
      const batch = Array.from({ length: n }, () => ({
        user_id: users[Math.floor(Math.random() * users.length)],
        event_type: 'Tick',
        insert_id: `${tag}-${process.pid}-${seq++}`,
        user_properties: { $add: { n: 1 } },
      }));
      const startedAt = Date.now();
      let server = home;
      for (let attempt = 1; ; attempt++) {
        let res = null;
        let err = null;
        const sentAt = Date.now();
        stats.inflight[names.get(server)]++;
        try {
          res = await server.track(batch, { apiKey: project.api_key });
        } catch (e) {
          err = e;
        }
        stats.inflight[names.get(server)]--;
        stats.attempts.push({ sentAt, at: Date.now(), node: names.get(server), status: res?.status ?? err.code ?? 'error' });
        if (res && res.status === 200 && res.json?.code === 200) {
          for (const e of batch) acked.set(e.user_id, acked.get(e.user_id) + 1);
          stats.batches++;
          stats.events += batch.length;
          stats.lastAckAt = Date.now();
          stats.acks.push({ startedAt, at: Date.now() });
          const ms = Date.now() - startedAt;
          if (ms > stats.maxBatchMs) {
            stats.maxBatchMs = ms;
            stats.slowest = { startedAt: startedAt - stats.t0, ms, attempts: attempt };
          }
          break;
        }
        const what = res ? `${res.status} ${res.text.trim()}` : `${err.code ?? ''} ${err.message}`.trim();
        stats.failures.push({ at: Date.now(), node: names.get(server), what, status: res?.status ?? err.code ?? 'error' });
        if (aborted) return;
        if (Date.now() - startedAt > BATCH_DEADLINE_MS) {
          throw new Error(`a batch was not acknowledged within ${BATCH_DEADLINE_MS} ms (${attempt} attempts); last: ${names.get(server)} ${what}`);
        }
        if (!res) home = other(server); // the node is gone: its client moves
        server = other(server);
        await sleep(50 + Math.random() * 100);
      }
      await sleep(Math.random() * 10);
    }
  }

  const errors = [];
  const running = [];
  for (const node of nodes) {
    for (let i = 0; i < CLIENTS_PER_NODE; i++) {
      running.push(
        client(node).catch((e) => {
          errors.push(e);
          stopping = true;
        }),
      );
    }
  }
  return {
    users,
    acked,
    stats,
    // Stops sending new batches; resolves once every batch under way is acknowledged.
    async stop() {
      stopping = true;
      await Promise.all(running);
      if (errors.length > 0) throw errors[0];
    },
    // Fails the test at once if a client gave up.
    check() {
      if (errors.length > 0) throw errors[0];
    },
    // Resolves once `count` more batches were acknowledged (the load moves).
    async progressed(count, what, timeoutMs = 60000) {
      const target = stats.batches + count;
      await until(() => {
        if (errors.length > 0) throw errors[0];
        return stats.batches >= target;
      }, what, { timeoutMs, everyMs: 20 });
    },
    // Cleanup: clients stop at once, batches under way unacknowledged.
    stopNow() {
      stopping = true;
      aborted = true;
      return Promise.all(running);
    },
  };
}

// A summary of the failed attempts: counts by node and status, the first and last (ms after
// `since`), and one example body of each kind.
function failureSummary(stats, since) {
  const by = {};
  const example = {};
  for (const f of stats.failures) {
    const k = `${f.node} ${f.status}`;
    by[k] = (by[k] ?? 0) + 1;
    example[f.status] ??= f.what;
  }
  const times = stats.failures.map((f) => f.at - since);
  return {
    failed_attempts: stats.failures.length,
    by,
    first_ms: times.length ? Math.min(...times) : null,
    last_ms: times.length ? Math.max(...times) : null,
    examples: example,
  };
}

// The error lines of a server's log, counted by message (times, ports and numbers folded).
function errorLines(server) {
  const out = {};
  for (const line of server.logs.split('\n')) {
    const m = /^\S+ error (.*)$/.exec(line);
    if (!m) continue;
    const k = m[1].replace(/127\.0\.0\.1:\d+/g, 'HOST:PORT').replace(/\b\d{3,}\b/g, 'N');
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

// Among the batches acknowledged at or after `since`, the longest time from a batch's first
// attempt to its acknowledgement.
function slowestAfter(stats, since) {
  return Math.max(0, ...stats.acks.filter((x) => x.at >= since).map((x) => x.at - x.startedAt));
}

// The assertion of every test: every user's n, read through each node, is the number of its
// events acknowledged.
async function assertExactlyOnce(load, nodes) {
  let total = 0;
  for (const [user, n] of load.acked) {
    total += n;
    for (const [i, server] of nodes.entries()) {
      if (n === 0) {
        assert.equal((await server.profile({ user_id: user })).status, 404, `${user} has no acknowledged event`);
        continue;
      }
      const data = await server.userData({ user_id: user });
      assert.deepEqual(data.user_properties, { n }, `${user} read through ${'AB'[i]}: ${n} events acknowledged`);
    }
  }
  assert.equal(total, load.stats.events);
  assert.ok(total > 0);
}

// Waits until /healthz answers 200 on every server.
async function healthy(servers) {
  for (const server of servers) {
    let last;
    await until(async () => (last = await server.request('GET', '/healthz')).status === 200, `/healthz 200 on ${server.base} (last: ${last?.status} ${last?.text})`, { timeoutMs: 15000 });
  }
}

// Only answers a fault may cause: 503 (with a JSON body) or no answer (a node killed).
function assertOnlyRetryableFailures(stats) {
  const bad = stats.failures.filter((f) => typeof f.status === 'number' && f.status !== 503);
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} failed attempts answered something else than 503`);
}

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
      await new Promise((resolve, reject) => {
        const p = spawn('redis-server', [path.join(dir, 'redis.conf')], { cwd: dir, stdio: 'ignore' });
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-server exited ${code}`))));
      });
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
