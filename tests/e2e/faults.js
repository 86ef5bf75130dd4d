// Helpers of the fault tests (crash.test.js, cluster-crash.test.js, cluster-faults.test.js):
// clients that send batches and retry them like the SDKs, the ledger of what was acknowledged,
// the checks of exactly once and of all-or-nothing, a seeded random source for the moments of
// the faults, and the Redis Cluster topology helpers.
//
// The client model: each event has a unique insert_id and adds 1 to its user's `n` ($add), the
// users shared by every client. A batch answered anything but 200, or not answered, is sent
// again, the same events with the same insert_ids, until it is acknowledged; with several
// servers (two nodes on one Redis Cluster), through the next one. A client may also "die with
// its server": a batch whose request got no answer is then given up for good (`abandon`), and
// stays in the ledger as unacknowledged, to check that it is all there or not at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runAsync, SEED, sleep } from './harness.js';
import { until } from './compute-helpers.js';
import { mulberry32 } from './prng.js';

export { until };

// ---- a seeded random source ----

// mulberry32 (prng.js). `name` and the seed are logged, so a failing run can be repeated with
// PROFILED_CRASH_SEED=<seed> (the choices repeat; the timing of the processes does not).
export function seededRandom(name) {
  const fromEnv = process.env.PROFILED_CRASH_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 2 ** 32) >>> 0;
  console.log(`${name}: seed ${seed} (PROFILED_CRASH_SEED=${seed} repeats the choices)`);
  const next = mulberry32(seed);
  return {
    seed,
    next,
    // An integer in [lo, hi].
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

// Makes restart() start `server` on the port it has now, as a client with a fixed URL expects
// (and so that a request meant for it can never reach another test's server on a reused port).
export function pinPort(server) {
  server.args = server.args.map((a) => (a === '127.0.0.1:0' ? `127.0.0.1:${server.port}` : a));
  return server;
}

// ---- the load ----

// Starts `clientsPerTarget` clients per server of `targets`, sending batches of `batchEvents`
// [min, max] events until stop(), each event to one of `users` users shared by all (`n` += 1).
//   devices: each event has a device_id of its own, so that its presence can be read alone
//            (GET /v1/userprofile?device_id=...) whatever else happened to its user;
//   abandon: the share of batches given up when a request of theirs gets no answer (a refused
//            connection is not one: the request never reached a server);
//   resend:  the share of acknowledged batches sent once more (a duplicate delivery, which must
//            change nothing);
//   shape(event, random): adds fields to each event (event_properties, ...);
//   random:  a () => [0, 1) source for the choices (batch sizes, users, abandon, resend);
//   pauseMs: each client waits up to this long (uniformly) between two batches.
// A connection error makes a client send through the next server from then on (its server is
// gone) until rehome(). Every failed attempt is recorded with its time, server and status.
export function startLoad(targets, {
  project = SEED,
  tag = 'load',
  users: userCount = 16,
  clientsPerTarget = 3,
  batchEvents = [1, 3],
  devices = false,
  abandon = 0,
  resend = 0,
  shape = (e) => e,
  random = Math.random,
  pauseMs = 10,
  deadlineMs = 90000,
} = {}) {
  const names = new Map(targets.map((s, i) => [s, 'ABCDEFGH'[i]]));
  const users = Array.from({ length: userCount }, (_, i) => `${tag}-${process.pid}-u${i}`);
  const acked = new Map(users.map((u) => [u, 0]));
  const batches = []; // {id, events, state: 'pending'|'acked'|'abandoned', attempts}
  const stats = {
    t0: Date.now(),
    batches: 0,
    events: 0,
    abandoned: 0,
    resent: 0,
    retriedAcked: 0, // batches acknowledged after a request without an answer
    failures: [], // {at, node, what, status}
    attempts: [], // {sentAt, at, node, status} of every attempt
    acks: [], // {startedAt, at} of every batch: its first attempt, its acknowledgement
    maxBatchMs: 0,
    slowest: null, // {startedAt, ms, attempts}
    lastAckAt: 0,
    inflight: Object.fromEntries([...names.values()].map((n) => [n, 0])), // requests under way
  };
  let stopping = false;
  let aborted = false; // after a failure: clients give up at once (cleanup)
  let seq = 0;
  const next = (s) => targets[(targets.indexOf(s) + 1) % targets.length];
  const homes = [];

  function newBatch() {
    const [lo, hi] = batchEvents;
    const n = lo + Math.floor(random() * (hi - lo + 1));
    const id = seq++;
    const events = Array.from({ length: n }, (_, i) => {
      const insertId = `${tag}-${process.pid}-${id}-${i}`;
      const event = {
        user_id: users[Math.floor(random() * users.length)],
        event_type: 'Tick',
        insert_id: insertId,
        user_properties: { $add: { n: 1 } },
      };
      if (devices) event.device_id = `dev-${insertId}`;
      return shape(event, random);
    });
    const batch = { id, events, state: 'pending', attempts: 0, unanswered: 0 };
    batches.push(batch);
    return batch;
  }

  async function send(server, batch) {
    const name = names.get(server);
    stats.inflight[name]++;
    try {
      return { res: await server.track(batch.events, { apiKey: project.api_key }) };
    } catch (err) {
      return { err };
    } finally {
      stats.inflight[name]--;
    }
  }

  async function client(index) {
    while (!stopping) {
      const batch = newBatch();
      const givesUp = random() < abandon;
      const startedAt = Date.now();
      let server = homes[index];
      for (;;) {
        batch.attempts++;
        const sentAt = Date.now();
        const { res, err } = await send(server, batch);
        stats.attempts.push({ sentAt, at: Date.now(), node: names.get(server), status: res?.status ?? err.code ?? 'error' });
        if (res && res.status === 200 && res.json?.code === 200) {
          batch.state = 'acked';
          for (const e of batch.events) acked.set(e.user_id, acked.get(e.user_id) + 1);
          stats.batches++;
          stats.events += batch.events.length;
          if (batch.unanswered > 0) stats.retriedAcked++;
          stats.lastAckAt = Date.now();
          stats.acks.push({ startedAt, at: Date.now() });
          const ms = Date.now() - startedAt;
          if (ms > stats.maxBatchMs) {
            stats.maxBatchMs = ms;
            stats.slowest = { startedAt: startedAt - stats.t0, ms, attempts: batch.attempts };
          }
          if (random() < resend) {
            // A duplicate delivery: answered 200 and applied no more, or not answered at all.
            stats.resent++;
            const again = await send(server, batch);
            if (again.res && again.res.status !== 200 && again.res.status !== 503) {
              throw new Error(`a batch sent again was answered ${again.res.status}: ${again.res.text}`);
            }
          }
          break;
        }
        const what = res ? `${res.status} ${res.text.trim()}` : `${err.code ?? ''} ${err.message}`.trim();
        stats.failures.push({ at: Date.now(), node: names.get(server), what, status: res?.status ?? err.code ?? 'error' });
        if (res && res.status !== 503) throw new Error(`a batch was answered ${what}`);
        if (aborted) return;
        // A refused connection never reached a server: only a request that may have is
        // "without an answer".
        if (!res && err.code !== 'ECONNREFUSED') {
          batch.unanswered++;
          if (givesUp) {
            batch.state = 'abandoned';
            stats.abandoned++;
            break;
          }
        }
        if (!res) homes[index] = next(server); // the server is gone: its client moves
        if (Date.now() - startedAt > deadlineMs) {
          throw new Error(`a batch was not acknowledged within ${deadlineMs} ms (${batch.attempts} attempts); last: ${names.get(server)} ${what}`);
        }
        server = next(server);
        await sleep(targets.length > 1 ? 50 + random() * 100 : 20 + random() * 30);
      }
      await sleep(random() * pauseMs);
    }
  }

  const errors = [];
  const running = [];
  for (const target of targets) {
    for (let i = 0; i < clientsPerTarget; i++) {
      const index = homes.length;
      homes.push(target);
      running.push(
        client(index).catch((e) => {
          errors.push(e);
          stopping = true;
        }),
      );
    }
  }
  const original = [...homes];
  return {
    users,
    acked,
    batches,
    stats,
    project,
    // Stops sending new batches; resolves once every batch under way is acknowledged (or given up).
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
      }, what, { timeoutMs, everyMs: 5 });
    },
    // Every client sends through its first server again (after that server was restarted).
    rehome() {
      homes.splice(0, homes.length, ...original);
    },
    // Cleanup: clients stop at once, batches under way unacknowledged.
    stopNow() {
      stopping = true;
      aborted = true;
      return Promise.all(running);
    },
  };
}

// ---- the checks ----

// Whether each event of `batch` (a load with `devices`) is applied, read alone through its
// device: [true|false, ...]. A device that resolves must resolve to the event's user.
async function presence(server, load, batch) {
  const out = [];
  for (const e of batch.events) {
    const res = await server.profile({ device_id: e.device_id }, { secret: load.project.secret_key });
    if (res.status === 404) {
      out.push(false);
      continue;
    }
    assert.equal(res.status, 200, `device ${e.device_id}: ${res.status} ${res.text}`);
    assert.equal(res.json.userData.user_id, e.user_id, `device ${e.device_id} reads as its event's user`);
    out.push(true);
  }
  return out;
}

// The assertion of every fault test: every acknowledged event applied exactly once. Each user's
// `n`, read through each of `servers`, is its events acknowledged plus those of the given-up
// batches that are there; with `allOrNothing` (a load with `devices`), each given-up batch is
// there whole or not at all, and each batch acknowledged after a request without an answer is
// there whole. Returns {abandoned, present, expected} (given-up batches, how many of them are
// there, and each user's `n` as read).
export async function assertExactlyOnce(load, servers, { allOrNothing = false } = {}) {
  const expected = new Map(load.acked);
  let present = 0;
  const abandoned = load.batches.filter((b) => b.state === 'abandoned');
  assert.ok(load.batches.every((b) => b.state !== 'pending'), 'no batch is still under way');
  if (allOrNothing) {
    for (const batch of abandoned) {
      const there = await presence(servers[0], load, batch);
      const count = there.filter(Boolean).length;
      assert.ok(count === 0 || count === there.length, `batch ${batch.id}, never acknowledged, is partly applied: ${count} of its ${there.length} events (${JSON.stringify(there)})`);
      if (count === 0) continue;
      present++;
      for (const e of batch.events) expected.set(e.user_id, expected.get(e.user_id) + 1);
    }
    for (const batch of load.batches.filter((b) => b.state === 'acked' && b.unanswered > 0)) {
      assert.deepEqual(await presence(servers[0], load, batch), batch.events.map(() => true), `batch ${batch.id}, acknowledged after a request without an answer`);
    }
  }
  let total = 0;
  for (const [user, n] of expected) {
    total += load.acked.get(user);
    for (const [i, server] of servers.entries()) {
      if (n === 0) {
        assert.equal((await server.profile({ user_id: user }, { secret: load.project.secret_key })).status, 404, `${user} has no acknowledged event`);
        continue;
      }
      const data = await server.userData({ user_id: user }, { secret: load.project.secret_key });
      assert.deepEqual(data.user_properties, { n }, `${user} read through ${'ABCDEFGH'[i]}: ${load.acked.get(user)} events acknowledged`);
    }
  }
  assert.equal(total, load.stats.events);
  assert.ok(total > 0);
  return { abandoned: abandoned.length, present, expected };
}

// A summary of the failed attempts: counts by node and status, the first and last (ms after
// `since`), and one example body of each kind.
export function failureSummary(stats, since) {
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
export function errorLines(server) {
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
export function slowestAfter(stats, since) {
  return Math.max(0, ...stats.acks.filter((x) => x.at >= since).map((x) => x.at - x.startedAt));
}

// Only answers a fault may cause: 503 (with a JSON body) or no answer (a node killed).
export function assertOnlyRetryableFailures(stats) {
  const bad = stats.failures.filter((f) => typeof f.status === 'number' && f.status !== 503);
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} failed attempts answered something else than 503`);
}

// Waits until /healthz answers 200 on every server.
export async function healthy(servers, timeoutMs = 15000) {
  for (const server of servers) {
    let last;
    await until(async () => (last = await server.request('GET', '/healthz')).status === 200, `/healthz 200 on ${server.base} (last: ${last?.status} ${last?.text})`, { timeoutMs, everyMs: 100 });
  }
}

// ---- Redis Cluster helpers ----

// Runs redis-cli against one node with the cluster's password; resolves to {code, stdout, stderr}.
export function redisCli(cluster, port, args, { timeoutMs = 30000 } = {}) {
  return runAsync('redis-cli', ['--no-auth-warning', '-a', cluster.password, '-h', '127.0.0.1', '-p', String(port), ...args], { timeoutMs });
}

export const portsOf = (cluster) => cluster.nodes.map((n) => Number(n.split(':')[1]));

// CLUSTER NODES as seen by the first node that answers (skipping `skip` ports):
// [{id, port, flags, masterId, slots}] where slots counts the slots it serves.
export async function clusterNodes(cluster, { skip = [] } = {}) {
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
export function nodeDir(cluster, port) {
  for (const n of fs.readdirSync(cluster.dir)) {
    const file = path.join(cluster.dir, n, 'port');
    if (/^node-\d+$/.test(n) && fs.existsSync(file) && Number(fs.readFileSync(file, 'utf8').trim()) === port) {
      return path.join(cluster.dir, n);
    }
  }
  throw new Error(`no node folder for port ${port} in ${cluster.dir}`);
}

// Every node on `ports` says cluster_state:ok and, if a replica, that its link is up.
export async function clusterHealthy(cluster, ports) {
  for (const port of ports) {
    const info = await redisCli(cluster, port, ['cluster', 'info']);
    if (info.code !== 0 || !/^cluster_state:ok/m.test(info.stdout)) return false;
    const repl = await redisCli(cluster, port, ['info', 'replication']);
    if (repl.code !== 0) return false;
    if (/^role:slave/m.test(repl.stdout) && !/^master_link_status:up/m.test(repl.stdout)) return false;
  }
  return true;
}

// Starts the Redis node of `dir` (DIR/node-N) again with its own redis.conf (it daemonizes);
// resolves once redis-server has exited 0.
export function startRedisNode(dir) {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-server', [path.join(dir, 'redis.conf')], { cwd: dir, stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-server ${dir}/redis.conf exited ${code}`))));
  });
}
