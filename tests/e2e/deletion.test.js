// Privacy deletion, Amplitude's User Privacy API v1 (reference/amplitude.md §6.1; docs/API.md,
// "Privacy deletion"): a user sent with the official Node SDK (a user_id on two devices, one of
// them anonymous first and merged in), with computed values, a behavioral and a static cohort,
// is deleted by user_id; once the job is done the server is stopped and the whole store is
// scanned for any byte of the user's ids and any record keyed by their amplitude_ids. Also:
// the API's errors, staging with DELETE of a staged id (the clock moved by the test), a fresh
// profile for new events after a deletion, and a kill -9 in the middle of a large deletion.
//
// The same on the Redis Cluster backend (two nodes on one cluster), where the store scan is every
// node's whole dataset dumped as an uncompressed RDB file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, makeTempDir, startNodePair, startServer, uid, sleep } from './harness.js';
import { cohort, cohortApiOk, eventCond, makeProjects, putAllReady, sdkClient, sdkTrack, until } from './compute-helpers.js';

function basic(p) {
  return `Basic ${Buffer.from(`${p.api_key}:${p.secret_key}`).toString('base64')}`;
}

function privacy(server, method, path, p, { json, body, headers = {} } = {}) {
  return server.request(method, `/api/2/deletions/users${path}`, { headers: { Authorization: basic(p), ...headers }, json, body });
}

function today(offsetMs = 0) {
  return new Date(Date.now() + offsetMs).toISOString().slice(0, 10);
}

async function waitDone(server, p, amplitudeId, day) {
  return until(async () => {
    const res = await privacy(server, 'GET', `?start_day=${day}&end_day=${day}`, p);
    assert.equal(res.status, 200, res.text);
    const job = res.json.find((j) => j.amplitude_ids.some((e) => e.amplitude_id === amplitudeId));
    return job?.status === 'done' ? job : null;
  }, `the deletion job of ${amplitudeId} is done`, { timeoutMs: 120000, everyMs: 100 });
}

function hex(s) {
  return Buffer.from(s, 'utf8').toString('hex');
}

function be64(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b.toString('hex');
}

function varint(n) {
  const out = [];
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out).toString('hex');
}

function projectPrefix(id) {
  return varint(Buffer.byteLength(id)) + hex(id);
}

// Every live key and value of the store, as hex: [{table, key, value}].
async function dumpStore(server, cluster) {
  const rows = [];
  if (cluster) {
    // Each node's whole dataset as an uncompressed RDB file: every key and value, byte for byte.
    const dir = makeTempDir('profiled-deletion-rdb-');
    for (const node of cluster.nodes) {
      const port = node.split(':')[1];
      execFileSync('redis-cli', ['-p', port, '--no-auth-warning', 'CONFIG', 'SET', 'rdbcompression', 'no']);
      const file = path.join(dir, `${port}.rdb`);
      execFileSync('redis-cli', ['-p', port, '--no-auth-warning', '--rdb', file], { stdio: 'ignore' });
      rows.push({ table: `redis ${port}`, key: '', value: fs.readFileSync(file).toString('hex') });
    }
    return rows;
  }
  for (const table of ['default', 'identity', 'profiles', 'dedup', 'events']) {
    const out = execFileSync('ldb', [`--db=${server.dataDir}`, `--column_family=${table}`, 'scan', '--hex'], { maxBuffer: 1 << 30 }).toString();
    for (const line of out.split('\n')) {
      const m = /^0x([0-9A-Fa-f]*) : 0x([0-9A-Fa-f]*)$/.exec(line.trim());
      if (m) rows.push({ table, key: m[1].toLowerCase(), value: m[2].toLowerCase() });
    }
  }
  return rows;
}

const P = makeProjects('del', 4, 'seed');

describe('privacy deletion', { timeout: 600000 }, () => {
  // On Redis Cluster: two nodes, events sent through `server` (a), the deletion asked of b.
  async function everyTrace(onCluster) {
    const pair = onCluster ? await startNodePair({ projects: P }) : null;
    const cluster = pair?.cluster ?? null;
    const server = pair ? pair.a : await startServer({ projects: P });
    const asked = pair ? pair.b : server;
    try {
      const p = P[0];
      const user = uid('gone-user');
      const anon = uid('gone-anon-device');
      const device = uid('gone-device');
      const keep = uid('kept-user');
      const keepDevice = uid('kept-device');
      await putAllReady(server, p.id, [
        ['computations', 1, { name: 'purchases', type: 'count', event_type: 'Purchase', window_days: 30 }],
        ['cohorts', 'buyers', cohort('Buyers', eventCond('Purchase', '>=', 1))],
      ]);
      const c = await sdkClient(server, p.api_key);
      // Anonymous first, then the user on another device, then the user on the anonymous
      // device: the anonymous id merges into the user's.
      await sdkTrack(c, [['Opened', { plan: 'anon' }, { device_id: anon }]]);
      const anonId = (await server.userData({ device_id: anon }, { secret: p.secret_key })).amplitude_id;
      const events = [];
      for (let i = 0; i < 20; i++) events.push(['Purchase', { price: i }, { user_id: user, device_id: device }]);
      await sdkTrack(c, events);
      await sdkTrack(c, [['Purchase', { price: 99 }, { user_id: user, device_id: anon, user_properties: { $set: { email: `${user}@example.com` } } }]]);
      await sdkTrack(c, [['Purchase', { price: 1 }, { user_id: keep, device_id: keepDevice }]]);
      const before = await server.userData({ user_id: user, get_computations: 'true' }, { secret: p.secret_key });
      const id = before.amplitude_id;
      assert.notEqual(id, anonId);
      assert.equal(before.computed_properties[1], 21);
      assert.deepEqual(before.cohort_ids, ['buyers']);
      // The anonymous device now reads as the user.
      assert.equal((await server.userData({ device_id: anon }, { secret: p.secret_key })).amplitude_id, id);
      const up = await cohortApiOk(server, 'POST', '/api/3/cohorts/upload', {
        name: 'VIP', app_id: 1, id_type: 'BY_USER_ID', ids: [user, keep], owner: 'e2e', published: true,
      }, p);
      const vip = up.cohortId;
      assert.deepEqual([...(await server.userData({ user_id: user }, { secret: p.secret_key })).cohort_ids].sort(), ['buyers', vip].sort());

      const res = await privacy(asked, 'POST', '', p, { json: { user_ids: [user], requester: 'dpo@example.com' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.day, today());
      assert.ok(['staging', 'submitted', 'done'].includes(res.json.status), res.text);
      assert.deepEqual(res.json.amplitude_ids, [{ amplitude_id: id, requester: 'dpo@example.com', requested_on_day: today() }]);
      const job = await waitDone(server, p, id, today());
      assert.equal(job.events_deleted, 22);

      for (const q of [{ user_id: user }, { device_id: device }, { device_id: anon }]) {
        const r = await server.profile(q, { secret: p.secret_key });
        assert.equal(r.status, 404, `${JSON.stringify(q)}: ${r.text}`);
      }
      const kept = await server.userData({ user_id: keep, get_computations: 'true' }, { secret: p.secret_key });
      assert.equal(kept.computed_properties[1], 1);
      assert.deepEqual([...kept.cohort_ids].sort(), ['buyers', vip].sort());

      assert.equal((await server.stop()).code, 0);
      if (pair) assert.equal((await pair.b.stop()).code, 0);
      const rows = await dumpStore(server, cluster);
      const pp = projectPrefix(p.id);
      const strings = [user, anon, device, `${user}@example.com`];
      for (const row of rows) {
        for (const s of strings) {
          assert.ok(!row.key.includes(hex(s)) && !row.value.includes(hex(s)), `${row.table} ${row.key} holds ${s}`);
        }
      }
      if (!cluster) {
        for (const row of rows) {
          for (const gone of [id, anonId]) {
            // Per-user records and the static cohort member index, keyed by the amplitude_id.
            assert.ok(!(row.table === 'profiles' && row.key.startsWith(pp + be64(gone))), `profiles ${row.key}`);
            assert.ok(!(row.table === 'default' && row.key.startsWith(pp + hex('M')) && row.key.endsWith(be64(gone))), `member ${row.key}`);
            assert.ok(!(row.table === 'identity' && (row.key === pp + hex('m') + be64(gone) || row.value === varint(gone))), `identity ${row.key}`);
            assert.ok(!(row.table === 'events' && row.key.startsWith(pp) && row.value.startsWith('02' + varint(gone))), `event ${row.key}`);
          }
        }
        // The scan sees the store: the kept user is there.
        assert.ok(rows.some((r) => r.table === 'identity' && r.key.includes(hex(keep))));
        assert.ok(rows.some((r) => r.table === 'events' && r.value.includes(hex(keep))));
      } else {
        assert.ok(rows.some((r) => r.key.includes(hex(keep)) || r.value.includes(hex(keep))));
        // Per-user records: the hash `{k} 'u' P be64(amplitude_id)` (docs/SCALING.md, "Layout");
        // the kept user's is found, so the pattern is the one the store writes.
        const userHash = (amplitudeId) => hex('}u') + pp + be64(amplitudeId);
        for (const gone of [id, anonId]) {
          assert.ok(!rows.some((r) => r.value.includes(userHash(gone))), `a record of ${gone} is left`);
        }
        assert.ok(rows.some((r) => r.value.includes(userHash(kept.amplitude_id))), 'the kept user\'s records are in the dump');
      }

      // New events for the user start a fresh profile, as Amplitude does.
      await server.restart();
      const c2 = await sdkClient(server, p.api_key);
      await sdkTrack(c2, [['Opened', { plan: 'new' }, { user_id: user, device_id: anon }]]);
      const fresh = await server.userData({ user_id: user, get_computations: 'true' }, { secret: p.secret_key });
      assert.notEqual(fresh.amplitude_id, id);
      assert.notEqual(fresh.amplitude_id, anonId);
      assert.deepEqual(fresh.user_properties, {});
      assert.deepEqual(fresh.computed_properties, { 1: 0 });
      assert.deepEqual(fresh.cohort_ids, []);
      await c.flush().promise;
      await c2.flush().promise;
    } finally {
      if (pair) await pair.dispose();
      else await server.dispose();
    }
  }

  it('deletes every trace of a user: profile, ids, aggregates, cohorts, logged events; others stay', () => everyTrace(false));
  it('the same on Redis Cluster, two nodes: events through one, the deletion asked of the other', () => everyTrace(true));

  it('refuses bad requests with 400 and a message, staging nothing; a wrong key is 401', async () => {
    const server = await startServer({ projects: P });
    try {
      const p = P[1];
      const c = await sdkClient(server, p.api_key);
      const user = uid('known');
      await sdkTrack(c, [['Opened', {}, { user_id: user }]]);
      const id = (await server.userData({ user_id: user }, { secret: p.secret_key })).amplitude_id;
      const bad = [
        [{ json: { amplitude_ids: Array.from({ length: 101 }, (_, i) => i + 1) } }, /amplitude_ids: at most 100/],
        [{ json: { user_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) } }, /user_ids: at most 100/],
        [{ json: { amplitude_ids: ['12a'] } }, /amplitude_ids: "12a" is not a positive integer/],
        [{ json: { amplitude_ids: [1.5] } }, /amplitude_ids: 1.5 is not a positive integer/],
        [{ json: { user_ids: [7] } }, /user_ids: every id must be a string/],
        [{ json: {} }, /at least one id/],
        [{ json: { user_ids: [user, 'nobody-1'] } }, /1 ids name no known user \(nobody-1\); nothing was staged/],
        [{ json: { amplitude_ids: [id, 999999] } }, /999999/],
        [{ body: 'amplitude_ids=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, /amplitude_ids: "x"/],
        [{ body: '{not json', headers: { 'Content-Type': 'application/json' } }, /not a JSON object/],
      ];
      for (const [opts, message] of bad) {
        const r = await privacy(server, 'POST', '', p, opts);
        assert.equal(r.status, 400, `${JSON.stringify(opts)}: ${r.text}`);
        assert.match(r.json.error, message);
      }
      for (const q of ['', '?start_day=2026-01-01', '?start_day=2026-13-01&end_day=2026-12-01', '?start_day=2026-01-01&end_day=2026-08-01', '?start_day=2026-02-01&end_day=2026-01-01']) {
        const r = await privacy(server, 'GET', q, p);
        assert.equal(r.status, 400, `${q}: ${r.text}`);
      }
      assert.equal((await privacy(server, 'DELETE', `/abc/${today()}`, p)).status, 400);
      assert.equal((await privacy(server, 'DELETE', `/${id}/2026-02-30`, p)).status, 400);
      assert.equal((await privacy(server, 'DELETE', `/${id}/${today()}`, p)).status, 404);
      // Nothing was staged, and the user is still there.
      const list = await privacy(server, 'GET', `?start_day=${today(-86400000)}&end_day=${today(86400000)}`, p);
      assert.deepEqual(list.json, []);
      assert.equal((await server.profile({ user_id: user }, { secret: p.secret_key })).status, 200);
      for (const auth of [`Basic ${Buffer.from(`${p.api_key}:wrong`).toString('base64')}`, `Basic ${Buffer.from(`${P[2].api_key}:${p.secret_key}`).toString('base64')}`, 'Api-Key x']) {
        const r = await server.request('POST', '/api/2/deletions/users', { headers: { Authorization: auth }, json: { user_ids: [user] } });
        assert.equal(r.status, 401, r.text);
      }
      // ignore_invalid_ids skips the unknown ones; a form body works too.
      const ok = await privacy(server, 'POST', '', p, {
        body: `user_ids=${encodeURIComponent(user)}&user_ids=nobody-2&requester=r%40x&ignore_invalid_ids=true`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.json.amplitude_ids.map((e) => [e.amplitude_id, e.requester]), [[id, 'r@x']]);
      await waitDone(server, p, id, today());
      assert.equal((await server.profile({ user_id: user }, { secret: p.secret_key })).status, 404);
      await c.flush().promise;
    } finally {
      await server.dispose();
    }
  });

  it('a staged job waits for staging_minutes; a staged id can be taken out with DELETE', async () => {
    const server = await startServer({ projects: P, clockControl: true, privacy: { staging_minutes: 60 } });
    try {
      const p = P[2];
      const c = await sdkClient(server, p.api_key);
      const [a, b] = [uid('staged-a'), uid('staged-b')];
      await sdkTrack(c, [['Opened', {}, { user_id: a }], ['Opened', {}, { user_id: b }]]);
      const ida = (await server.userData({ user_id: a }, { secret: p.secret_key })).amplitude_id;
      const idb = (await server.userData({ user_id: b }, { secret: p.secret_key })).amplitude_id;
      const first = await privacy(server, 'POST', '', p, { json: { amplitude_ids: [ida], requester: 'x' } });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.status, 'staging');
      const day = first.json.day;
      assert.equal(day, today(3600000));
      // A second request joins the staging job.
      const second = await privacy(server, 'POST', '', p, { json: { user_ids: [b], requester: 'y' } });
      assert.equal(second.json.day, day);
      assert.deepEqual(second.json.amplitude_ids.map((e) => e.amplitude_id), [ida, idb]);
      await sleep(1500);
      assert.equal((await server.profile({ user_id: a }, { secret: p.secret_key })).status, 200);
      const removed = await privacy(server, 'DELETE', `/${idb}/${day}`, p);
      assert.equal(removed.status, 200, removed.text);
      assert.deepEqual(removed.json.amplitude_ids.map((e) => e.amplitude_id), [ida]);
      assert.equal((await privacy(server, 'DELETE', `/${idb}/${day}`, p)).status, 404);
      // An hour later the job runs.
      await server.setClockOffset(3600000 + 60000);
      const job = await waitDone(server, p, ida, day);
      assert.deepEqual(job.amplitude_ids.map((e) => e.amplitude_id), [ida]);
      assert.equal((await server.profile({ user_id: a }, { secret: p.secret_key })).status, 404);
      assert.equal((await server.profile({ user_id: b }, { secret: p.secret_key })).status, 200);
      // A done job can no longer be changed.
      const late = await privacy(server, 'DELETE', `/${ida}/${day}`, p);
      assert.equal(late.status, 400, late.text);
      assert.match(late.json.error, /is done; it can no longer be changed/);
      await c.flush().promise;
    } finally {
      await server.dispose();
    }
  });

  it('a deletion cut by kill -9 resumes at the next start and completes', async () => {
    // A small chunk keeps the job running long enough to be killed in the middle.
    const server = await startServer({ projects: P, testing: { deletion_chunk_events: 10 } });
    try {
      const p = P[3];
      const user = uid('big');
      const other = uid('other');
      const events = [];
      for (let i = 0; i < 12000; i++) {
        events.push({ event_type: 'Viewed', user_id: i % 3 === 0 ? other : user, device_id: i % 3 === 0 ? 'dev-other' : 'dev-big', insert_id: `ins-${i}`, event_properties: { i } });
      }
      for (let i = 0; i < events.length; i += 1000) await server.trackOk(events.slice(i, i + 1000), { apiKey: p.api_key, path: '/batch' });
      const id = (await server.userData({ user_id: user }, { secret: p.secret_key })).amplitude_id;
      const res = await privacy(server, 'POST', '', p, { json: { user_ids: [user] } });
      assert.equal(res.status, 200, res.text);
      // Killed once the job has started (the user is gone) but before it is done.
      await until(async () => (await server.profile({ user_id: user }, { secret: p.secret_key })).status === 404, 'the job started', { everyMs: 5 });
      await until(async () => {
        const list = await privacy(server, 'GET', `?start_day=${today()}&end_day=${today()}`, p);
        return list.json[0].events_deleted > 0;
      }, 'the job deleted some events', { everyMs: 5 });
      await server.kill9();
      // Killed in the middle: some events deleted, not all.
      assert.doesNotMatch(server.stderr, /is done/);
      await server.restart();
      const job = await waitDone(server, p, id, today());
      // Each chunk's count is in its commit: resumed, the job counts every event once.
      assert.equal(job.events_deleted, 8000);
      assert.equal((await server.profile({ user_id: other }, { secret: p.secret_key })).status, 200);
      await server.stop();
      const rows = await dumpStore(server, null);
      for (const row of rows) {
        assert.ok(!row.key.includes(hex(user)) && !row.value.includes(hex(user)), `${row.table} ${row.key}`);
        assert.ok(!row.key.includes(hex('dev-big')) && !row.value.includes(hex('dev-big')), `${row.table} ${row.key}`);
      }
      assert.equal(rows.filter((r) => r.table === 'events').length, 4000);
    } finally {
      await server.dispose();
    }
  });
});
