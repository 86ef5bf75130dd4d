// GET /metrics (CONTRACT §6): Prometheus text whose counters follow the traffic.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it, SEED, sharedServer, uid } from './harness.js';

// The families docs/API.md "Metrics" documents: {name: type}, from its table's rows.
function documentedMetrics() {
  const api = fs.readFileSync(new URL('../../docs/API.md', import.meta.url), 'utf8');
  const section = api.slice(api.indexOf('### Metrics'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| Metric |')));
  const out = {};
  for (const m of table.matchAll(/^\| `(profiled_[a-z_]+)` \| (counter|gauge|histogram) \|/gm)) out[m[1]] = m[2];
  return out;
}

const req = (route, status) => `profiled_http_requests_total{route="${route}",status="${status}"}`;
const get = (m, key) => m.get(key) ?? 0;

describe('metrics', () => {
  const h = sharedServer({ throttle: 0 });

  it('is Prometheus text with HELP/TYPE lines', async () => {
    const res = await h.server.request('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain/);
    assert.match(res.text, /^# TYPE profiled_http_requests_total counter$/m);
    assert.match(res.text, /^# TYPE profiled_events_ingested_total counter$/m);
    for (const line of res.text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$/, line);
    }
  });

  it('serves exactly the families docs/API.md "Metrics" documents, with their types', async () => {
    const s = h.server;
    // One read through a network store, so its family appears on the cluster backend too.
    await s.profile({ user_id: uid('ghost') });
    const res = await s.request('GET', '/metrics');
    const served = {};
    for (const m of res.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) served[m[1]] = m[2];
    const documented = documentedMetrics();
    assert.ok(Object.keys(documented).length >= 10, `the table was found: ${JSON.stringify(documented)}`);
    // The Redis Cluster family appears only on that backend.
    if (!('profiled_profile_store_reads_total' in served)) delete documented.profiled_profile_store_reads_total;
    assert.deepEqual(served, documented);
  });

  it('request counters move by route and status', async () => {
    const s = h.server;
    const before = await s.metrics();
    await s.request('GET', '/healthz');
    await s.request('GET', '/healthz');
    await s.trackOk([{ user_id: uid('m'), event_type: 'x' }]);
    await s.track([{ user_id: 'null', event_type: 'x' }]);
    await s.profile({ user_id: uid('ghost') });
    const after = await s.metrics();
    assert.equal(get(after, req('/healthz', 200)) - get(before, req('/healthz', 200)), 2);
    assert.equal(get(after, req('/2/httpapi', 200)) - get(before, req('/2/httpapi', 200)), 1);
    assert.equal(get(after, req('/2/httpapi', 400)) - get(before, req('/2/httpapi', 400)), 1);
    assert.equal(get(after, req('/v1/userprofile', 404)) - get(before, req('/v1/userprofile', 404)), 1);
  });

  it('profiled_events_ingested_total counts accepted events; refused ones do not count', async () => {
    const s = h.server;
    const before = await s.metrics();
    const user = uid('m');
    await s.trackOk([1, 2, 3].map((i) => ({ user_id: user, event_type: 'x', event_properties: { i } })));
    await s.track([{ user_id: user, event_type: 'x' }, { user_id: 'undefined', event_type: 'x' }]);
    await s.trackOk([{ user_id: user, event_type: 'y' }], { path: '/batch' });
    const after = await s.metrics();
    assert.equal(get(after, 'profiled_events_ingested_total') - get(before, 'profiled_events_ingested_total'), 4);
  });

  it('profiled_events_rejected_total counts the events of refused batches', async () => {
    const s = h.server;
    const before = await s.metrics();
    await s.track([{ user_id: uid('m'), event_type: 'x' }, { user_id: 'none', event_type: 'x' }, { user_id: uid('m') }]);
    await s.track([{ user_id: uid('m'), event_type: 'x' }, { user_id: uid('m'), event_type: 'x' }], { apiKey: 'no-such-key' });
    const after = await s.metrics();
    const key = 'profiled_events_rejected_total';
    assert.equal(get(after, key) - get(before, key), 5);
    assert.equal(get(after, 'profiled_events_ingested_total'), get(before, 'profiled_events_ingested_total'));
  });

  it('de-duplicated events are not counted as ingested twice', async () => {
    const s = h.server;
    const user = uid('m');
    const device = uid('md');
    const ev = { user_id: user, device_id: device, event_type: 'x', insert_id: uid('ins') };
    await s.trackOk([ev]);
    const before = await s.metrics();
    await s.trackOk([ev]);
    const after = await s.metrics();
    assert.equal(get(after, 'profiled_events_ingested_total'), get(before, 'profiled_events_ingested_total'));
  });

  it('an unknown api key is counted as a 400', async () => {
    const s = h.server;
    const before = await s.metrics();
    await s.track([{ user_id: uid('m'), event_type: 'x' }], { apiKey: `${SEED.api_key}-wrong` });
    const after = await s.metrics();
    assert.equal(get(after, req('/2/httpapi', 400)) - get(before, req('/2/httpapi', 400)), 1);
  });
});
