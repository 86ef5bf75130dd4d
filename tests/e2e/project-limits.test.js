// Limits that protect the store (issue 9 item 7; docs/API.md "Limits", docs/RELIABILITY.md
// "Limits"): a project's own event rate ([[projects]] events_per_second, Amplitude's 429 that the
// official SDK waits out and retries), a project's Profile API reads (profile_reads_per_minute,
// Amplitude's 429 with Retry-After), and how many definitions of each kind a project may have
// ([definitions]); each limit is the project's alone and changes on SIGHUP. Time passes for the
// buckets through the testing clock (PUT /admin/v1/testing/clock), never by sleeping; the one
// real wait is the SDK's own 30 s before it sends throttled events again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createInstance, Identify } from '@amplitude/analytics-node';
import { after, before, configToml, describe, formBody, it, makeTempDir, runBinary, sleep, startServer, uid } from './harness.js';
import { cohortApi, until } from './compute-helpers.js';

// ING may send 1 event a second averaged over the 60 s window: 60 at once after a quiet minute.
const ING = { id: 'ing', api_key: 'ing-api-key', secret_key: 'ing-secret', events_per_second: 1 };
// SDKP the same, for the SDK's test alone.
const SDKP = { id: 'sdkp', api_key: 'sdkp-api-key', secret_key: 'sdkp-secret', events_per_second: 1 };
// READ may make 3 Profile API reads a minute: one every 20 s.
const READ = { id: 'read', api_key: 'read-api-key', secret_key: 'read-secret', profile_reads_per_minute: 3 };
// FREE has no limit of its own; DEF holds the definitions.
const FREE = { id: 'free', api_key: 'free-api-key', secret_key: 'free-secret' };
const DEF = { id: 'def', api_key: 'def-api-key', secret_key: 'def-secret' };
const LIMITS = { max_computations: 2, max_cohorts: 2, max_recommendations: 1 };
const WINDOW = 60;

const config = ({ projects = [ING, SDKP, READ, FREE, DEF], definitionLimits = LIMITS } = {}) =>
  configToml({ dataDir: '{{DATA}}', projects, throttleWindow: WINDOW, clockControl: true, definitionLimits });

const projectBody = (n, eps = 1) =>
  JSON.stringify({
    code: 429,
    error: 'Too many requests for this project',
    eps_threshold: eps,
    throttled_devices: {},
    throttled_users: {},
    throttled_events: Array.from({ length: n }, (_, i) => i),
    exceeded_daily_quota_devices: {},
    exceeded_daily_quota_users: {},
  });
const READS_BODY = '{"error":"Number of requests per minute exceeds system limit. Contact Support if you need this limit raised"}';

const computation = (id, windowDays = 30) => ({ id, name: `c${id}`, type: 'count', event_type: 'Purchase', window_days: windowDays });
const cohort = (id, n = 1) => ({
  id,
  name: id,
  definition: {
    andClauses: [
      { negated: false, orClauses: [{ type: 'event', type_value: 'Purchase', time_type: 'rolling', time_value: 30, operator: '>=', operator_value: n, metric: null }] },
    ],
  },
});
const recommendation = (id) => ({ id, model: 'popular', item_event: 'View', item_property: 'item' });
const countError = (kind, key, n, extra = '') =>
  `project def already has ${n} ${kind}, the most it may have (definitions.${key} = ${n}${extra}); ` +
  `change or delete an existing one, or raise definitions.${key}`;

// `n` events of distinct users that each add 1 to n.
const adds = (prefix, n) => Array.from({ length: n }, (_, i) => ({ user_id: `${prefix}-${i}`, event_type: 'e', user_properties: { $add: { n: 1 } } }));

describe('limits that protect the store', () => {
  let s;
  let offset = 0;
  // Moves the server's clock `ms` further on: the buckets refill as if that time had passed.
  const pass = async (ms) => {
    offset += ms;
    await s.setClockOffset(offset);
  };
  const counter = async (name) => (await s.metrics()).get(name) ?? 0;

  before(async () => {
    s = await startServer({ config: config() });
  });
  after(async () => {
    await s?.dispose();
  });

  it("a batch past the project's rate is answered 429 whole in Amplitude's shape; nothing of it is applied; another project is not affected", async () => {
    const p = uid('ing');
    const throttledBefore = await counter('profiled_events_throttled_total');
    const ok = await s.trackOk(adds(`${p}-a`, WINDOW), { apiKey: ING.api_key }); // the window is full
    assert.equal(ok.events_ingested, WINDOW);
    const refused = await s.track(adds(`${p}-b`, 10), { apiKey: ING.api_key });
    assert.equal(refused.status, 429);
    assert.equal(refused.text, projectBody(10));
    // /batch and /identify count against the same rate and get the same answer.
    const batch = await s.track(adds(`${p}-c`, 6), { apiKey: ING.api_key, path: '/batch' });
    assert.equal(batch.status, 429);
    assert.equal(batch.text, projectBody(6));
    const identification = JSON.stringify([0, 1, 2, 3, 4, 5].map((i) => ({ user_id: `${p}-d-${i}`, user_properties: { $set: { x: 1 } } })));
    const identify = await s.request('POST', '/identify', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: ING.api_key, identification }),
    });
    assert.equal(identify.status, 429);
    assert.equal(identify.text, projectBody(6));
    for (const id of [`${p}-b-0`, `${p}-b-9`, `${p}-c-0`, `${p}-d-0`]) {
      assert.equal((await s.profile({ user_id: id }, { secret: ING.secret_key })).status, 404, id);
    }
    assert.equal((await counter('profiled_events_throttled_total')) - throttledBefore, 22);
    // Another project sends more than ING's whole window at once.
    assert.equal((await s.trackOk(adds(`${p}-free`, 200), { apiKey: FREE.api_key })).events_ingested, 200);
    // A minute later the window has room again, and the refused batch applies once.
    await pass(WINDOW * 1000);
    await s.trackOk(adds(`${p}-b`, 10), { apiKey: ING.api_key });
    assert.deepEqual((await s.userData({ user_id: `${p}-b-9` }, { secret: ING.secret_key })).user_properties, { n: 1 });
    // One request with more events than the window holds is admitted once the window is
    // empty (refusing it would make the SDKs send it again forever); the next one then waits.
    await pass(WINDOW * 1000);
    assert.equal((await s.trackOk(adds(`${p}-e`, 61), { apiKey: ING.api_key })).events_ingested, 61);
    const next = await s.track(adds(`${p}-f`, 1), { apiKey: ING.api_key });
    assert.equal(next.status, 429);
    assert.equal(next.text, projectBody(1));
  });

  it('Profile API reads past the project\'s limit get 429 with Amplitude\'s body and a Retry-After; other projects read on', async () => {
    const user = uid('reader');
    await s.trackOk([{ user_id: user, event_type: 'e', user_properties: { plan: 'pro' } }], { apiKey: READ.api_key });
    await s.trackOk([{ user_id: user, event_type: 'e' }], { apiKey: FREE.api_key });
    await pass(60 * 1000); // whatever an earlier test read, the bucket is full
    assert.equal((await s.profile({ user_id: user }, { secret: READ.secret_key })).status, 200);
    assert.equal((await s.profile({ user_id: 'nobody-here' }, { secret: READ.secret_key })).status, 404); // every read counts
    assert.equal((await s.profile({ user_id: user }, { secret: READ.secret_key })).status, 200);
    const refused = await s.profile({ user_id: user }, { secret: READ.secret_key });
    assert.equal(refused.status, 429);
    assert.equal(refused.text, READS_BODY);
    assert.match(refused.headers['content-type'], /^application\/json/);
    // The next token is 20 s after the first read, less the real time the reads took.
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 20, `Retry-After: ${refused.headers['retry-after']}`);
    assert.equal((await s.profile({ user_id: user }, { secret: 'wrong' })).status, 401); // a wrong key is told so first
    for (let i = 0; i < 10; i++) assert.equal((await s.profile({ user_id: user }, { secret: FREE.secret_key })).status, 200);
    assert.equal((await s.profile({ user_id: user }, { secret: READ.secret_key })).status, 429);
    await pass(20 * 1000);
    assert.deepEqual((await s.userData({ user_id: user }, { secret: READ.secret_key })).user_properties, { plan: 'pro' });
    assert.equal((await s.profile({ user_id: user }, { secret: READ.secret_key })).status, 429);
  });

  it('a new definition past its kind\'s limit is refused (400 naming the config key), static cohorts count as cohorts, and changing an existing one always works', async () => {
    const put = (kind, id, body) => s.admin('PUT', `/projects/${DEF.id}/${kind}/${id}`, body);
    for (const id of [1, 2]) assert.equal((await put('computations', id, computation(id))).status, 200);
    const third = await put('computations', 3, computation(3));
    assert.equal(third.status, 400);
    assert.equal(third.text, JSON.stringify({ error: countError('computations', 'max_computations', 2) }));
    assert.equal((await s.admin('GET', `/projects/${DEF.id}/computations/3`)).status, 404);
    assert.deepEqual((await s.adminOk('GET', `/projects/${DEF.id}/computations`)).computations.map((c) => c.id), [1, 2]);
    const changed = await put('computations', 2, computation(2, 60));
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.json.window_days, 60);
    // Another project has its own count.
    assert.equal((await s.admin('PUT', `/projects/${FREE.id}/computations/3`, computation(3))).status, 200);

    assert.equal((await put('cohorts', 'h1', cohort('h1'))).status, 200);
    const upload = await cohortApi(s, 'POST', '/api/3/cohorts/upload', { name: 'vip', id_type: 'BY_USER_ID', ids: ['someone'] }, DEF);
    assert.equal(upload.status, 200, upload.text);
    const staticId = upload.json.cohortId;
    const cohortsFull = countError('cohorts', 'max_cohorts', 2, ', static cohorts included');
    const h3 = await put('cohorts', 'h3', cohort('h3'));
    assert.equal(h3.status, 400);
    assert.equal(h3.text, JSON.stringify({ error: cohortsFull }));
    const second = await cohortApi(s, 'POST', '/api/3/cohorts/upload', { name: 'vip2', id_type: 'BY_USER_ID', ids: ['someone'] }, DEF);
    assert.equal(second.status, 400);
    assert.deepEqual(second.json, { http_code: 400, type: 'invalid_request', message: cohortsFull, metadata: {} });
    const replaced = await cohortApi(s, 'POST', '/api/3/cohorts/upload', { name: 'vip, renamed', id_type: 'BY_USER_ID', ids: ['someone'], existing_cohort_id: staticId }, DEF);
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal((await put('cohorts', 'h1', cohort('h1', 2))).status, 200);
    const listed = await cohortApi(s, 'GET', '/api/3/cohorts', undefined, DEF);
    assert.deepEqual(listed.json.cohorts.map((c) => c.name).sort(), ['h1', 'vip, renamed']);

    assert.equal((await put('recommendations', 'r1', recommendation('r1'))).status, 200);
    const r2 = await put('recommendations', 'r2', recommendation('r2'));
    assert.equal(r2.status, 400);
    assert.equal(r2.text, JSON.stringify({ error: countError('recommendations', 'max_recommendations', 1) }));

    // A deleted definition makes room.
    assert.equal((await s.admin('DELETE', `/projects/${DEF.id}/computations/1`)).status, 200);
    assert.equal((await put('computations', 3, computation(3))).status, 200);
  });

  it('the official @amplitude/analytics-node SDK waits out the project\'s 429 and sends the whole batch again, applied once', async () => {
    // Its destination plugin (node_modules/@amplitude/analytics-core/lib/cjs/plugins/destination.js,
    // handleRateLimitResponse) gives each event listed in throttled_events a 30 s wait, drops
    // none (no exceeded_daily_quota ids) and puts the others back for the next flush (20 ms
    // here). The body lists every event, so the whole batch waits. (In this version the first
    // 30 s timer also holds the others back; a body listing none would be sent again at once,
    // which the check after the pause below catches.)
    const p = uid('sdk');
    await s.trackOk(adds(`${p}-fill`, WINDOW), { apiKey: SDKP.api_key }); // the window is full
    const r429 = 'profiled_http_requests_total{route="/2/httpapi",status="429"}';
    const refusedBefore = await counter(r429);
    const throttledBefore = await counter('profiled_events_throttled_total');
    const client = createInstance();
    await client.init(SDKP.api_key, { serverUrl: `${s.base}/2/httpapi`, flushIntervalMillis: 20, logLevel: 0 }).promise;
    const settled = [];
    const pending = [0, 1, 2].map((i) => {
      const promise = client.identify(new Identify().add('n', 1), { user_id: `${p}-u${i}` }).promise;
      promise.then(() => settled.push(i));
      return promise;
    });
    await until(async () => (await counter('profiled_events_throttled_total')) - throttledBefore >= 3, 'the SDK\'s batch to be throttled');
    const refused = await counter(r429); // one request, unless the SDK split the three
    assert.ok(refused - refusedBefore >= 1);
    await sleep(500); // an event not in throttled_events would be sent again within 20 ms
    assert.equal(await counter(r429), refused, 'nothing was sent again before the SDK\'s wait');
    assert.deepEqual(settled, [], 'the SDK did not give up on any event');
    assert.equal((await s.profile({ user_id: `${p}-u0` }, { secret: SDKP.secret_key })).status, 404);
    await pass(WINDOW * 1000); // the window has room when the SDK comes back
    const results = await Promise.all(pending);
    assert.deepEqual(results.map((r) => r.code), [200, 200, 200]);
    for (const i of [0, 1, 2]) {
      assert.deepEqual((await s.userData({ user_id: `${p}-u${i}` }, { secret: SDKP.secret_key })).user_properties, { n: 1 });
    }
    assert.equal(await counter(r429), refused, 'the retry was admitted the first time');
  });

  it('SIGHUP changes every limit: a project gets a rate, another loses its read limit, a definition bound is raised', async () => {
    const reloads = () => s.stderr.split('\n').filter((l) => /config reload(ed| refused)/.test(l)).length;
    const seen = reloads();
    s.rewriteConfig(
      config({
        projects: [ING, SDKP, { ...READ, profile_reads_per_minute: 0 }, { ...FREE, events_per_second: 2 }, DEF],
        definitionLimits: { ...LIMITS, max_cohorts: 3 },
      }),
    );
    s.signal('SIGHUP');
    await until(() => reloads() > seen, 'the reload to be logged');
    assert.match(s.stderr, /config reloaded .*settings changed: definitions\.max_cohorts, projects\.read, projects\.free/);
    const p = uid('hup');
    await s.trackOk(adds(`${p}-free`, 2 * WINDOW), { apiKey: FREE.api_key });
    const refused = await s.track(adds(`${p}-more`, 1), { apiKey: FREE.api_key });
    assert.equal(refused.status, 429);
    assert.equal(refused.text, projectBody(1, 2));
    const user = uid('reader');
    await s.trackOk([{ user_id: user, event_type: 'e' }], { apiKey: READ.api_key });
    for (let i = 0; i < 10; i++) assert.equal((await s.profile({ user_id: user }, { secret: READ.secret_key })).status, 200);
    assert.equal((await s.admin('PUT', `/projects/${DEF.id}/cohorts/h3`, cohort('h3'))).status, 200);
    const h4 = await s.admin('PUT', `/projects/${DEF.id}/cohorts/h4`, cohort('h4'));
    assert.equal(h4.status, 400);
    assert.equal(h4.json.error, countError('cohorts', 'max_cohorts', 3, ', static cohorts included'));
  });
});

describe('a definitions file past a limit', () => {
  it('stops the start with exit code 2 and a line naming the file, the entry and the config key', () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'defs.json');
    fs.writeFileSync(file, JSON.stringify({ computations: [computation(1), computation(2), computation(3)] }));
    const dataDir = path.join(dir, 'data');
    const configPath = path.join(dir, 'profiled.toml');
    fs.writeFileSync(configPath, configToml({ dataDir, projects: [{ ...DEF, definitions: file }], definitionLimits: LIMITS }));
    const r = runBinary(['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`${file}: computations[2]`), r.stderr);
    assert.ok(r.stderr.includes(countError('computations', 'max_computations', 2)), r.stderr);
  });

  it('a negative limit stops the start with exit code 2 naming the key', () => {
    const dir = makeTempDir();
    const dataDir = path.join(dir, 'data');
    for (const [project, key] of [
      [{ ...FREE, events_per_second: -1 }, 'projects[0].events_per_second'],
      [{ ...FREE, profile_reads_per_minute: -1 }, 'projects[0].profile_reads_per_minute'],
    ]) {
      const configPath = path.join(dir, `${uid('cfg')}.toml`);
      fs.writeFileSync(configPath, configToml({ dataDir, projects: [project] }));
      const r = runBinary(['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^config: ${key.replace(/[[\]]/g, '\\$&')}: must be between 0`, 'm'));
    }
    const configPath = path.join(dir, 'defs-limit.toml');
    fs.writeFileSync(configPath, configToml({ dataDir, projects: [FREE], definitionLimits: { max_cohorts: -1 } }));
    const r = runBinary(['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^config: definitions\.max_cohorts: must be between 1 and 1000000, got -1$/m);
  });
});
