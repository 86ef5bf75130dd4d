// Access (issue 9, item 6; docs/RELIABILITY.md "Access"): a key of project A never reads or
// writes project B, through every endpoint; keys never reach the log.
//
// Two projects, each with data of every kind: user properties (a user, a device-only user, and
// a user_id both projects have), a computation, a behavioral cohort, a static cohort uploaded
// through the cohort API, a recommendation (the cheap `popular` model) and a member download.
// With A's keys, everything is tried against B; B's whole state, read with B's keys before and
// after, must not change, and what A wrote must have landed in A (so the attempts were real).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { configToml, describe, formBody, it, makeTempDir, sharedServer, startServer } from './harness.js';
import {
  cohort,
  cohortApi,
  cohortApiOk,
  csvMembers,
  daysAgo,
  downloadMembers,
  eventCond,
  makeProjects,
  until,
  waitReady,
} from './compute-helpers.js';

const [A, B] = makeProjects('acc', 2, 'seed');
B.secret_keys = ['acc2-second-secret-key']; // any of B's keys is B's alone

const SHARED_USER = 'acc-shared-user'; // a user_id both projects have
const basic = (apiKey, secret) => `Basic ${Buffer.from(`${apiKey}:${secret}`).toString('base64')}`;
// The v1 upload form of amplitude-js (POST /), with its checksum.
function v1Form(apiKey, events) {
  const e = JSON.stringify(events);
  const uploadTime = String(Date.now());
  const checksum = crypto.createHash('md5').update(`2${apiKey}${e}${uploadTime}`, 'utf8').digest('hex');
  return formBody({ client: apiKey, e, v: '2', upload_time: uploadTime, checksum });
}

// The ids of one project's data; the definition ids differ between A and B, so that "A has no
// such id" and "A's own object with B's id" are told apart (the latter is tried on purpose).
function namesOf(p) {
  return {
    u1: `${p.id}-user-1`,
    u2: `${p.id}-user-2`,
    device: `${p.id}-device-1`,
    computation: p === A ? 11 : 21,
    cohort: `${p.id}-buyers`,
    rec: `${p.id}-recs`,
  };
}

// Gives project `p` data of every kind; returns the id of its static cohort.
async function populate(s, p, plan) {
  const n = namesOf(p);
  const at = daysAgo(1);
  const views = [];
  for (let u = 0; u < 6; u++) {
    for (const sku of ['sku-1', 'sku-2', u % 2 === 0 ? 'sku-3' : 'sku-4']) {
      views.push({ user_id: `${p.id}-viewer-${u}`, event_type: 'View', time: at, event_properties: { sku } });
    }
  }
  await s.trackOk([
    { user_id: n.u1, event_type: '$identify', user_properties: { $set: { plan, project: p.id } } },
    { user_id: n.u2, event_type: '$identify', user_properties: { $set: { plan, tier: 2 } } },
    { user_id: SHARED_USER, event_type: '$identify', user_properties: { $set: { plan } } },
    { device_id: n.device, event_type: '$identify', user_properties: { $set: { anonymous: true } } },
    { user_id: n.u1, event_type: 'Purchase', time: at, event_properties: { price: 3 } },
    { user_id: n.u1, event_type: 'Purchase', time: at, event_properties: { price: 4 } },
    { user_id: SHARED_USER, event_type: 'Purchase', time: at, event_properties: { price: 5 } },
    { user_id: n.u1, event_type: 'View', time: at, event_properties: { sku: 'sku-1' } },
    ...views,
  ], { apiKey: p.api_key });
  const up = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: `${p.id} static`, id_type: 'BY_USER_ID', ids: [n.u2, SHARED_USER] }, p);
  return up.cohortId;
}

const DEFINITIONS = (p) => {
  const n = namesOf(p);
  return [
    ['computations', n.computation, { name: 'purchases', type: 'count', event_type: 'Purchase', window_days: 30 }],
    ['cohorts', n.cohort, cohort('buyers', eventCond('Purchase', '>=', 1))],
    ['recommendations', n.rec, {
      title: `${p.id} picks`, model: 'popular', item_event: 'View', item_property: 'sku',
      history_window_days: 30, max_items: 3, retrain_every_minutes: 0,
    }],
  ];
};

// Everything of project `p` its own keys can see: every user's profile (with recommendations),
// the definitions of each kind, the cohort API's list and each cohort's downloaded members.
async function stateOf(s, p, staticId) {
  const n = namesOf(p);
  const profiles = {};
  for (const [key, params] of [
    ['u1', { user_id: n.u1 }],
    ['u2', { user_id: n.u2 }],
    ['shared', { user_id: SHARED_USER }],
    ['device', { device_id: n.device }],
  ]) {
    profiles[key] = await s.userData({ ...params, get_recs: 'true' }, { secret: p.secret_key });
  }
  const definitions = {};
  for (const kind of ['computations', 'cohorts', 'recommendations']) {
    definitions[kind] = (await s.adminOk('GET', `/projects/${p.id}/${kind}`))[kind];
  }
  const listed = (await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, p)).cohorts.sort((x, y) => x.id.localeCompare(y.id));
  const members = {};
  for (const id of [n.cohort, staticId]) members[id] = csvMembers((await downloadMembers(s, p, id)).file.text);
  return { profiles, definitions, listed, members };
}

describe('a key of one project never reads or writes another', () => {
  const h = sharedServer({ projects: [A, B] });

  it('A\'s keys, through every endpoint, leave B as it was; what they wrote is A\'s', async () => {
    const s = h.server;
    const a = namesOf(A);
    const b = namesOf(B);
    const aStatic = await populate(s, A, 'a-plan');
    const bStatic = await populate(s, B, 'b-plan');
    // Every definition of both projects put before any is waited for (a cluster serves a new
    // spec 7 s after its PUT).
    for (const p of [A, B]) {
      for (const [kind, id, body] of DEFINITIONS(p)) await s.adminOk('PUT', `/projects/${p.id}/${kind}/${id}`, body);
    }
    for (const p of [A, B]) {
      for (const [kind, id] of DEFINITIONS(p)) await waitReady(s, p.id, kind, id);
      await until(async () => {
        const r = await s.adminOk('GET', `/projects/${p.id}/recommendations/${namesOf(p).rec}`);
        return r.training?.status === 'ready';
      }, `the recommendation of ${p.id} to be trained`);
    }
    const before = await stateOf(s, B, bStatic);
    // B's data is what the test made: the comparison below has something to compare.
    assert.deepEqual(before.profiles.u1.user_properties, { plan: 'b-plan', project: B.id });
    assert.deepEqual(before.profiles.u1.computed_properties, { [b.computation]: 2 });
    assert.deepEqual(before.profiles.u1.cohort_ids, [b.cohort]);
    assert.deepEqual([...before.profiles.shared.cohort_ids].sort(), [b.cohort, bStatic].sort());
    assert.equal(before.profiles.u1.recommendations[0].rec_id, b.rec);
    assert.deepEqual(before.listed.map((c) => c.id).sort(), [b.cohort, bStatic].sort());
    assert.equal(before.members[bStatic].length, 2);
    // B's second secret key reads the same.
    assert.deepEqual((await s.userData({ user_id: b.u1 }, { secret: B.secret_keys[0] })).user_properties, before.profiles.u1.user_properties);

    // ---- Profile API with A's secret key ----
    for (const params of [{ user_id: b.u1 }, { user_id: b.u2 }, { device_id: b.device }, { user_id: b.u1, device_id: b.device }]) {
      const res = await s.profile({ ...params, get_recs: 'true', comp_id: String(b.computation) }, { secret: A.secret_key });
      assert.equal(res.status, 404, `${JSON.stringify(params)}: ${res.text}`);
    }
    // A user_id both have: A's user, with A's definitions only, whatever B's ids asked for.
    const shared = await s.userData({ user_id: SHARED_USER, get_recs: 'true', rec_id: `${b.rec},${a.rec}`, comp_id: `${b.computation},${a.computation}` }, { secret: A.secret_key });
    assert.deepEqual(shared.user_properties, { plan: 'a-plan' });
    assert.deepEqual(shared.computed_properties, { [a.computation]: 1 });
    assert.deepEqual([...shared.cohort_ids].sort(), [a.cohort, aStatic].sort());
    assert.deepEqual(shared.recommendations.map((r) => r.rec_id), [a.rec]);
    // No other key of either project is a secret key of B's data.
    for (const secret of [A.api_key, B.api_key, 'e2e-admin-token']) {
      const res = await s.profile({ user_id: b.u1 }, { secret });
      assert.equal(res.status, 401, secret);
      assert.equal(res.text, 'Invalid Api-Key');
    }

    // ---- Cohort API with A's Basic credentials ----
    const aList = (await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, A)).cohorts.map((c) => c.id).sort();
    assert.deepEqual(aList, [a.cohort, aStatic].sort());
    for (const auth of [basic(A.api_key, B.secret_key), basic(A.api_key, B.secret_keys[0]), basic(B.api_key, A.secret_key)]) {
      for (const [method, path, body] of [
        ['GET', '/api/3/cohorts'],
        ['POST', '/api/3/cohorts/upload', { name: 'x', id_type: 'BY_USER_ID', ids: [b.u1], existing_cohort_id: bStatic }],
        ['POST', '/api/3/cohorts/membership', { cohort_id: bStatic, memberships: [{ ids: [b.u1], id_type: 'BY_NAME', operation: 'ADD' }] }],
        ['GET', `/api/5/cohorts/request/${bStatic}`],
      ]) {
        const res = await cohortApi(s, method, path, body, A, { auth });
        assert.equal(res.status, 401, `${method} ${path}: ${res.text}`);
      }
    }
    // B's cohorts do not exist for A: membership changes and download requests are refused.
    for (const id of [bStatic, b.cohort]) {
      const m = await cohortApi(s, 'POST', '/api/3/cohorts/membership', { cohort_id: id, memberships: [{ ids: [b.u1, SHARED_USER], id_type: 'BY_NAME', operation: 'REMOVE' }] }, A);
      assert.ok(m.status === 400 || m.status === 404, `membership of ${id}: ${m.status} ${m.text}`);
      assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request/${id}`, undefined, A)).status, 404, id);
    }
    // B's download request ids mean nothing to A.
    const { requestId } = await downloadMembers(s, B, bStatic);
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request-status/${requestId}`, undefined, A)).status, 404);
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request/${requestId}/file`, undefined, A)).status, 404);
    // An upload naming B's static cohort id makes A's own cohort of that id, from A's users.
    const hijack = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'hijack', id_type: 'BY_USER_ID', ids: [b.u1, a.u1], existing_cohort_id: bStatic }, A);
    assert.equal(hijack.cohortId, bStatic);
    assert.deepEqual(hijack.metadata.invalid_ids_sample, [b.u1]); // B's user is unknown to A
    const aAmp = (await s.userData({ user_id: a.u1 }, { secret: A.secret_key })).amplitude_id;
    assert.deepEqual(csvMembers((await downloadMembers(s, A, bStatic)).file.text), [`${aAmp},${a.u1}`]);
    assert.deepEqual(csvMembers((await s.admin('GET', `/projects/${A.id}/cohorts/${bStatic}/members`)).text), [`${aAmp},${a.u1}`]);
    // BY_ID: B's amplitude_ids name no user of A (or A's own user of that number, never B's).
    const bIds = Object.values(before.profiles).map((d) => d.amplitude_id);
    await cohortApiOk(s, 'POST', '/api/3/cohorts/membership', { cohort_id: bStatic, memberships: [{ ids: bIds, id_type: 'BY_ID', operation: 'ADD' }] }, A);

    // ---- Ingestion with A's api_key naming B's users ----
    const hijacked = { $set: { plan: 'hijacked' } };
    await s.trackOk([
      { user_id: b.u1, event_type: 'Purchase', user_properties: hijacked },
      { device_id: b.device, event_type: '$identify', user_properties: hijacked },
    ], { apiKey: A.api_key });
    await s.trackOk([{ user_id: b.u2, event_type: 'Purchase', user_properties: hijacked }], { apiKey: A.api_key, path: '/batch' });
    // Top-level fields that name B are ignored: the api_key alone says whose data it is.
    const steered = await s.request('POST', '/2/httpapi', { json: { api_key: A.api_key, project: B.id, app_id: B.id, events: [{ user_id: SHARED_USER, event_type: '$identify', user_properties: hijacked }] } });
    assert.equal(steered.status, 200, steered.text);
    const identification = JSON.stringify({ user_id: b.u1, user_properties: { $set: { via: 'identify' } } });
    const form = await s.request('POST', '/identify', { body: formBody({ api_key: A.api_key, identification }), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 200, form.text);
    const query = await s.request('GET', `/identify?${formBody({ api_key: A.api_key, identification: JSON.stringify({ user_id: b.u2, user_properties: { $set: { via: 'identify-get' } } }) })}`);
    assert.equal(query.status, 200, query.text);
    // amplitude-js's v1 upload (POST /), signed with A's key.
    const v1 = await s.request('POST', '/', {
      body: v1Form(A.api_key, [{ user_id: b.u1, event_type: '$identify', timestamp: Date.now(), uuid: 'acc-v1-1', user_properties: { $set: { via_v1: true } } }]),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' },
    });
    assert.equal(v1.status, 200, v1.text);
    // The remote configuration says nothing of either project's data.
    assert.deepEqual((await s.request('GET', `/config/${A.api_key}`)).json, (await s.request('GET', `/config/${B.api_key}`)).json);
    // ... and they landed in A.
    assert.deepEqual((await s.userData({ user_id: b.u1 }, { secret: A.secret_key })).user_properties, { plan: 'hijacked', via: 'identify', via_v1: true });
    assert.deepEqual((await s.userData({ user_id: b.u2 }, { secret: A.secret_key })).user_properties, { plan: 'hijacked', via: 'identify-get' });
    assert.deepEqual((await s.userData({ device_id: b.device }, { secret: A.secret_key })).user_properties, { plan: 'hijacked' });
    assert.deepEqual((await s.userData({ user_id: SHARED_USER }, { secret: A.secret_key })).user_properties, { plan: 'hijacked' });

    // ---- Admin API: one global operator token; a project's keys are no admin token ----
    for (const token of [A.secret_key, A.api_key, B.secret_key, B.secret_keys[0], B.api_key]) {
      for (const [method, path, body] of [
        ['GET', `/projects/${B.id}/computations`],
        ['PUT', `/projects/${B.id}/computations/99`, { name: 'x', type: 'count', event_type: 'Purchase' }],
        ['DELETE', `/projects/${B.id}/cohorts/${b.cohort}`],
        ['GET', `/projects/${B.id}/cohorts/${b.cohort}/members`],
        ['POST', `/projects/${B.id}/recommendations/${b.rec}/train`],
      ]) {
        const res = await s.admin(method, path, body, { token });
        assert.equal(res.status, 401, `${method} ${path} with a project key: ${res.text}`);
      }
    }
    // A's paths never reach B's definitions.
    for (const [method, path] of [
      ['GET', `/projects/${A.id}/computations/${b.computation}`],
      ['GET', `/projects/${A.id}/cohorts/${b.cohort}`],
      ['GET', `/projects/${A.id}/cohorts/${b.cohort}/members`],
      ['GET', `/projects/${A.id}/recommendations/${b.rec}`],
      ['POST', `/projects/${A.id}/recommendations/${b.rec}/train`],
      ['DELETE', `/projects/${A.id}/cohorts/${b.cohort}`],
      ['DELETE', `/projects/${A.id}/computations/${b.computation}`],
      ['DELETE', `/projects/${A.id}/recommendations/${b.rec}`],
    ]) {
      const res = await s.admin(method, path);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
    }
    const ref = await s.admin('PUT', `/projects/${A.id}/cohorts/ref`, cohort('ref', { type: 'cohort', type_value: b.cohort }));
    assert.equal(ref.status, 400, ref.text);
    // The admin token is the operator's, for every project: with it, B's path is B's data.
    assert.equal((await s.adminOk('GET', `/projects/${B.id}/cohorts/${b.cohort}`)).id, b.cohort);

    // ---- B is exactly as it was ----
    assert.deepEqual(await stateOf(s, B, bStatic), before);
  });
});

// Every configured secret, and every wrong key a client sent, as they would appear in the log.
function leaks(stderr, secrets) {
  return secrets.filter((k) => stderr.includes(k));
}

describe('no key is ever written to the log', () => {
  it('the server\'s stderr holds none of the keys, tokens or passwords configured or sent, right or wrong', async () => {
    const P = { id: 'logp', api_key: 'log-api-key-7f3a', secret_key: 'log-secret-key-91c2', secret_keys: ['log-secret-key-2-5d0e'], profile_dialect: 'seed' };
    const Q = { id: 'logq', api_key: 'log-api-key-q-44b1', secret_key: 'log-secret-key-q-a8e3', profile_dialect: 'amplitude' };
    const password = 'redis-password-c0ffee';
    const adminToken = 'log-admin-token-beef';
    const wrong = ['wrong-secret-3b9d', 'log-secret-key-91c', 'log-secret-key-91c2x', 'wrong-api-key-6e1f', 'wrong-admin-token-d00d'];
    // redis_password is checked and ignored under rocksdb: configured, so it must not show.
    const text = configToml({ dataDir: '{{DATA}}', projects: [P, Q], adminToken, storage: { redis_password: password } });
    const s = await startServer({ config: text });
    try {
      const user = 'log-user-1';
      await s.trackOk([{ user_id: user, event_type: 'e', user_properties: { a: 1 } }], { apiKey: P.api_key });
      for (const secret of [P.secret_key, ...P.secret_keys, Q.secret_key, ...wrong]) await s.profile({ user_id: user }, { secret });
      for (const apiKey of [P.api_key, 'wrong-api-key-6e1f']) {
        await s.track([{ user_id: user, event_type: 'e' }], { apiKey });
        await s.request('POST', '/identify', { body: formBody({ api_key: apiKey, identification: JSON.stringify({ user_id: user }) }), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
        await s.request('POST', '/', { body: v1Form(apiKey, [{ user_id: user, event_type: 'e' }]), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
        await s.request('GET', `/config/${apiKey}`);
      }
      for (const [api, secret] of [[P.api_key, P.secret_key], [P.api_key, 'wrong-secret-3b9d'], ['wrong-api-key-6e1f', P.secret_key]]) {
        await s.request('GET', '/api/3/cohorts', { headers: { Authorization: basic(api, secret) } });
      }
      for (const token of [adminToken, 'wrong-admin-token-d00d', P.secret_key]) await s.admin('GET', `/projects/${P.id}/computations`, undefined, { token });
      // A reload that changes keys and the password, one that fails, and the stop: each logs.
      s.rewriteConfig(configToml({ dataDir: '{{DATA}}', projects: [{ ...P, secret_keys: ['log-secret-key-3-77aa'] }, Q], adminToken, storage: { redis_password: 'redis-password-2-f00d' } }));
      s.signal('SIGHUP');
      await until(async () => (await s.profile({ user_id: user }, { secret: 'log-secret-key-3-77aa' })).status === 200, 'the reloaded key to work');
      s.rewriteConfig(`${text}\nsecret_key = "log-secret-key-dup-19ff"\n`); // a duplicate key: does not load
      s.signal('SIGHUP');
      await until(() => s.stderr.includes('config reload refused'), 'the refused reload to be logged');
      assert.equal((await s.stop()).code, 0);
      // The log said something about each of those (so the check below reads real output).
      for (const line of ['listening on', 'config reloaded', 'storage.redis_password changed', 'config reload refused', 'stopped']) {
        assert.ok(s.stderr.includes(line), `the log should mention "${line}":\n${s.stderr}`);
      }
      const secrets = [P.api_key, P.secret_key, ...P.secret_keys, Q.api_key, Q.secret_key, adminToken, password,
        'log-secret-key-3-77aa', 'redis-password-2-f00d', 'log-secret-key-dup-19ff', ...wrong];
      assert.deepEqual(leaks(s.stderr, secrets), [], `keys in the log:\n${s.stderr}`);
    } finally {
      await s.dispose();
    }
  });

  it('the demo project\'s keys are printed once on stdout, never in the log', async () => {
    const dir = makeTempDir();
    const s = await startServer({ args: ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')] });
    try {
      await until(() => s.stdout.includes('admin_token'), 'the demo keys on stdout');
      for (const key of ['demo-api-key', 'demo-secret-key', 'demo-admin-token']) {
        assert.equal(s.stdout.split(key).length - 1, 1, `${key} once on stdout:\n${s.stdout}`);
      }
      assert.equal((await s.profile({ user_id: 'nobody' }, { secret: 'demo-secret-key' })).status, 404);
      assert.equal((await s.stop()).code, 0);
      assert.deepEqual(leaks(s.stderr, ['demo-api-key', 'demo-secret-key', 'demo-admin-token']), [], s.stderr);
      assert.match(s.stderr, /keys are printed on stdout/);
    } finally {
      await s.dispose();
    }
  });
});
