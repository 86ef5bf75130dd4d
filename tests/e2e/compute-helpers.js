// Helpers of the part 2 e2e tests (computations, cohorts, backfills, static cohorts): the
// official Node SDK bound to a server, definitions put over the admin API and waited for,
// Amplitude's cohort API with Basic auth, and polling with a deadline (never a fixed sleep).
import assert from 'node:assert/strict';
import amplitude from '@amplitude/analytics-node';
import { sleep } from './harness.js';

const { createInstance } = amplitude;

export const DAY = 86400000;

// Epoch ms `n` days before `base` (default: now).
export function daysAgo(n, base = Date.now()) {
  return base - n * DAY;
}

// Epoch ms of the start (00:00:00.000 UTC) of the UTC day holding `ms`.
export function utcDayStart(ms) {
  return Math.floor(ms / DAY) * DAY;
}

// `n` projects with their own keys, in the given dialect, so that each test can own one and
// compare whole bodies (definitions are per project and every read reports all of them).
export function makeProjects(prefix, n, dialect = 'seed') {
  const out = [];
  for (let i = 1; i <= n; i++) {
    out.push({
      id: `${prefix}${i}`,
      api_key: `${prefix}${i}-api-key`,
      secret_key: `${prefix}${i}-secret-key`,
      profile_dialect: dialect,
    });
  }
  return out;
}

// Polls `fn` until it returns a truthy value; returns it. Throws with `what` after the deadline.
export async function until(fn, what, { timeoutMs = 30000, everyMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

// GET of one definition; the JSON body (asserts 200).
export async function getDefinition(server, project, kind, id) {
  return server.adminOk('GET', `/projects/${project}/${kind}/${id}`);
}

// Waits until the definition's GET says "ready"; returns that body.
export async function waitReady(server, project, kind, id, opts) {
  return until(async () => {
    const d = await getDefinition(server, project, kind, id);
    return d.status === 'ready' ? d : null;
  }, `${kind}/${id} of ${project} to be ready`, opts);
}

// PUT a definition (asserts 200) and wait until it is served; returns the ready GET body.
export async function putReady(server, project, kind, id, body) {
  await server.adminOk('PUT', `/projects/${project}/${kind}/${id}`, body);
  return waitReady(server, project, kind, id);
}

// PUTs definitions one after the other (asserts 200 each), then waits until every one is
// served; returns the ready GET bodies in order. `defs`: [[kind, id, body], ...], where a
// cohort may reference a definition put before it. On a Redis Cluster a new aggregate spec is
// served 7 s after its PUT at the earliest (docs/SCALING.md, "Definitions on the cluster"), so
// definitions that need not be ready one at a time are put together.
export async function putAllReady(server, project, defs) {
  for (const [kind, id, body] of defs) await server.adminOk('PUT', `/projects/${project}/${kind}/${id}`, body);
  const ready = [];
  for (const [kind, id] of defs) ready.push(await waitReady(server, project, kind, id));
  return ready;
}

// An @amplitude/analytics-node instance that sends to `server` with `apiKey`.
export async function sdkClient(server, apiKey) {
  const c = createInstance();
  await c.init(apiKey, {
    serverUrl: `${server.base}/2/httpapi`,
    flushIntervalMillis: 20,
    logLevel: 0,
  }).promise;
  return c;
}

// Sends events with the SDK: each item is [eventType, eventProperties, eventOptions];
// flushes and asserts that the SDK reports success for every one.
export async function sdkTrack(client, events) {
  const pending = events.map(([type, props, options]) => client.track(type, props, options).promise);
  await client.flush().promise;
  const results = await Promise.all(pending);
  for (const r of results) assert.equal(r.code, 200, `${r.event.event_type}: ${r.code} ${r.message}`);
  return results;
}

// Amplitude's cohort API (/api/3/..., /api/5/...) with Basic api_key:secret_key.
export function cohortApi(server, method, path, json, project, { auth } = {}) {
  const headers = {};
  const value = auth !== undefined ? auth : `Basic ${Buffer.from(`${project.api_key}:${project.secret_key}`).toString('base64')}`;
  if (value !== null) headers.Authorization = value;
  return server.request(method, path, { headers, json });
}

// Like cohortApi but asserts the status (200 by default); returns the JSON body.
export async function cohortApiOk(server, method, path, json, project, status = 200) {
  const res = await cohortApi(server, method, path, json, project);
  if (res.status !== status) throw new Error(`${method} ${path} expected ${status}, got ${res.status}: ${res.text}`);
  return res.json;
}

// The whole member download flow of one cohort: request, poll the status, fetch the file.
// Returns the file's response.
export async function downloadMembers(server, project, cohortId) {
  const req = await cohortApiOk(server, 'GET', `/api/5/cohorts/request/${cohortId}`, undefined, project, 202);
  assert.equal(req.cohort_id, cohortId);
  assert.equal(typeof req.request_id, 'string');
  const done = await until(async () => {
    const res = await cohortApi(server, 'GET', `/api/5/cohorts/request-status/${req.request_id}`, undefined, project);
    if (res.status === 202) {
      assert.equal(res.json.async_status, 'JOB INPROGRESS');
      return null;
    }
    return res;
  }, `download ${req.request_id}`);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.json, { request_id: req.request_id, cohort_id: cohortId, async_status: 'JOB COMPLETED' });
  const file = await cohortApi(server, 'GET', `/api/5/cohorts/request/${req.request_id}/file`, undefined, project);
  assert.equal(file.status, 200, file.text);
  return { requestId: req.request_id, file };
}

// The lines of a CSV member list after its header, sorted (members come in amplitude_id order,
// but tests compare sets).
export function csvMembers(text) {
  const lines = text.split('\n').filter((l) => l !== '');
  assert.equal(lines[0], 'amplitude_id,user_id');
  return lines.slice(1).sort();
}

// A cohort definition of one AND clause per argument; each argument is
// {negated?, or: [condition, ...]} or a bare condition.
export function cohort(name, ...clauses) {
  return {
    name,
    definition: {
      andClauses: clauses.map((c) => (c.or ? { negated: Boolean(c.negated), orClauses: c.or } : { negated: false, orClauses: [c] })),
    },
  };
}

// An event condition: `count` events of `type` in `days` rolling days by default.
export function eventCond(type, operator, value, { days = 30, filters = [], metric = null, time } = {}) {
  const scope = time ?? { time_type: 'rolling', time_value: days };
  return { type: 'event', type_value: type, ...scope, operator, operator_value: value, filters, metric };
}

export function userPropCond(prop, op, values) {
  return values === undefined ? { type: 'user_property', prop, op } : { type: 'user_property', prop, op, values };
}

export function cohortRef(id) {
  return { type: 'cohort', type_value: id };
}
