// The console's admin API (issue 10 item 5, docs/API.md "Console API"): the projects list, a
// user's lookup (properties, computed values, cohorts, recommendations, groups and recent
// events from the event log, by each id kind) that is no exposure of its recommendations, and
// the stats sampler's rates and cohort sizes ([console] intervals of 1 s here). Events are
// sent with the official @amplitude/analytics-node SDK.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import amplitude from '@amplitude/analytics-node';
import { describe, it, sharedServer, uid } from './harness.js';
import { cohort, makeProjects, putAllReady, sdkClient, sdkTrack, until, userPropCond } from './compute-helpers.js';

const { Identify } = amplitude;
const [P] = makeProjects('conseed', 1, 'seed');
const [Q] = makeProjects('conamp', 1, 'amplitude');
const EXPOSURE = '[Recs] Recommendation Event';

const REC = {
  title: 'For you',
  model: 'itemknn',
  item_event: 'Product Viewed',
  item_property: 'product_id',
  history_window_days: 30,
  candidates: { top_n: 1000 },
  exclude_items: [],
  exclude_seen: true,
  max_items: 3,
  control_percentage: 0,
  control_group_of: null,
  retrain_every_minutes: 60,
  params: {},
};
const sku = (c, i) => `sku-${c}-${i}`;

describe('console API', () => {
  const h = sharedServer({
    projects: [P, Q],
    clockControl: true,
    console: { rate_sample_seconds: 1, cohort_sample_seconds: 1 },
  });
  const lookup = (project, query, opts) => h.server.admin('GET', `/projects/${project.id}/users?${query}`, undefined, opts);
  const lookupOk = async (project, query) => {
    const res = await lookup(project, query);
    assert.equal(res.status, 200, `${query}: ${res.status} ${res.text}`);
    return res.json;
  };
  const types = (body) => body.recent_events.map((e) => e.event_type);

  it('lists every project in config order with its definition counts, never a key', async () => {
    const res = await h.server.admin('GET', '/projects');
    assert.equal(res.status, 200, res.text);
    const expected = (p, c) => ({ id: p.id, profile_dialect: p.profile_dialect, computations: c, cohorts: c, recommendations: 0 });
    assert.deepEqual(res.json, { projects: [expected(P, 0), expected(Q, 0)] });
    await putAllReady(h.server, Q.id, [
      ['computations', '5', { id: 5, name: 'purchases', type: 'count', event_type: 'Purchase' }],
      ['cohorts', 'any', cohort('anyone', userPropCond('plan', 'set'))],
    ]);
    const after = await h.server.admin('GET', '/projects');
    assert.deepEqual(after.json, { projects: [expected(P, 0), expected(Q, 1)] });
    for (const p of [P, Q]) {
      for (const key of [p.api_key, p.secret_key, 'e2e-admin-token']) assert.ok(!after.text.includes(key), `${key} in ${after.text}`);
    }
  });

  it('looks a user up by each id kind: profile, computed values, cohorts, recs, groups, recent events newest first', async () => {
    const server = h.server;
    // Training data for the recommendation: 3 clusters of 6 items, 8 viewers each.
    const training = [];
    for (let c = 0; c < 3; c++) {
      for (let u = 0; u < 8; u++) {
        for (let k = 0; k < 4; k++) {
          training.push({ user_id: `con-train-${c}-${u}`, event_type: 'Product Viewed', time: Date.now() - 3600000 + k, event_properties: { product_id: sku(c, (u + k) % 6) } });
        }
      }
    }
    await server.trackOk(training, { apiKey: P.api_key });
    await putAllReady(server, P.id, [
      ['computations', '1', { id: 1, name: 'purchases', type: 'count', event_type: 'Purchase' }],
      ['cohorts', 'pros', cohort('pros', userPropCond('plan', 'is', ['pro']))],
      ['recommendations', 'r1', REC],
    ]);
    await until(async () => (await server.adminOk('GET', `/projects/${P.id}/recommendations/r1`)).training?.status === 'ready', 'r1 to be trained');

    const c = await sdkClient(server, P.api_key);
    const user = uid('con-user');
    const d1 = uid('con-dev1');
    const d2 = uid('con-dev2');
    const t = Date.now() - 60000;
    // A purchase by the user; one by an anonymous device, which is then merged into the user.
    await sdkTrack(c, [[{ event_type: 'Purchase', event_properties: { sku: 'a', price: 5 }, user_properties: { plan: 'pro' } }, undefined, { user_id: user, device_id: d1, time: t + 1, insert_id: `${user}-1` }]]);
    await sdkTrack(c, [['Purchase', { sku: 'b' }, { device_id: d2, time: t + 2, insert_id: `${user}-2` }]]);
    const anonymous = (await server.userData({ device_id: d2 }, { secret: P.secret_key })).amplitude_id;
    await sdkTrack(c, [['Purchase', { sku: 'c' }, { user_id: user, device_id: d2, time: t + 3, insert_id: `${user}-3` }]]);
    const group = await c.setGroup('org', 'acme', { user_id: user, device_id: d1, time: t + 4, insert_id: `${user}-4` }).promise;
    const groupProps = c.groupIdentify('org', 'acme', new Identify().set('plan', 'enterprise'), { user_id: uid('con-admin') }).promise;
    await c.flush().promise;
    assert.equal(group.code, 200);
    assert.equal((await groupProps).code, 200);
    await sdkTrack(c, [0, 1, 2].map((i) => ['Product Viewed', { product_id: sku(1, i) }, { user_id: user, device_id: d1, time: t + 5 + i, insert_id: `${user}-v${i}` }]));

    const profile = await server.userData({ user_id: user }, { secret: P.secret_key });
    assert.notEqual(anonymous, profile.amplitude_id);
    // The lookup serves the recommendation once the model is on this node's shelf.
    const body = await until(async () => {
      const b = await lookupOk(P, `user_id=${encodeURIComponent(user)}`);
      return b.recommendations.length > 0 ? b : null;
    }, 'the lookup to serve r1');
    assert.equal(body.amplitude_id, profile.amplitude_id);
    assert.equal(body.user_id, user);
    assert.equal(body.device_id, d1);
    assert.deepEqual(body.user_properties, profile.user_properties);
    assert.deepEqual(body.user_properties, { plan: 'pro', org: 'acme' });
    assert.equal(typeof body.amp_props.library, 'string');
    assert.deepEqual(body.computed_properties, { 1: 3 });
    assert.deepEqual(body.computed_properties, profile.computed_properties);
    assert.deepEqual(body.cohort_ids, ['pros']);
    assert.deepEqual(body.groups, { org: ['acme'] });
    assert.deepEqual(body.group_properties, { org: { acme: { plan: 'enterprise' } } });
    assert.equal(body.recommendations.length, 1);
    const rec = body.recommendations[0];
    assert.deepEqual(Object.keys(rec), ['rec_id', 'items', 'is_control', 'recommendation_type']);
    assert.equal(rec.rec_id, 'r1');
    assert.equal(rec.is_control, false);
    assert.equal(rec.items.length, 3);
    for (const i of [0, 1, 2]) assert.ok(!rec.items.includes(sku(1, i)), 'seen items are excluded');
    // Newest first (by event time), the merged anonymous device's purchase among them.
    assert.deepEqual(types(body), ['Product Viewed', 'Product Viewed', 'Product Viewed', '$identify', 'Purchase', 'Purchase', 'Purchase']);
    assert.deepEqual(body.recent_events.map((e) => e.time), [t + 7, t + 6, t + 5, t + 4, t + 3, t + 2, t + 1]);
    assert.deepEqual(body.recent_events[6], { event_type: 'Purchase', time: t + 1, insert_id: `${user}-1`, event_properties: { sku: 'a', price: 5 }, user_properties: { plan: 'pro' } });
    assert.deepEqual(body.recent_events[5].event_properties, { sku: 'b' });
    assert.equal(body.recent_events[3].user_properties.$set.org, 'acme');
    assert.ok(body.events_scanned >= training.length + 7, `events_scanned ${body.events_scanned}`);
    assert.equal(body.truncated, false);  // far under the 5,000,000-entry cap

    // Every id kind finds the same user: each device, the amplitude_id, and the id merged into it.
    const { events_scanned: _, ...same } = body;
    for (const query of [`device_id=${d1}`, `device_id=${d2}`, `amplitude_id=${profile.amplitude_id}`, `amplitude_id=${anonymous}`, `user_id=${encodeURIComponent(user)}&events_hours=168`]) {
      const { events_scanned: __, ...other } = await lookupOk(P, query);
      assert.deepEqual(other, same, query);
    }

    // A lookup is no exposure: none appended, however many lookups.
    const again = await lookupOk(P, `user_id=${encodeURIComponent(user)}`);
    assert.deepEqual(types(again), types(body));
    assert.equal(again.events_scanned, body.events_scanned);
    // A Profile API read with get_recs is one: its exposure event shows in the next lookups.
    const read = await server.userData({ user_id: user, get_recs: 'true' }, { secret: P.secret_key });
    assert.deepEqual(read.recommendations[0].child_ids, rec.items);
    const exposed = await until(async () => {
      const b = await lookupOk(P, `user_id=${encodeURIComponent(user)}`);
      return b.recent_events[0]?.event_type === EXPOSURE ? b : null;
    }, 'the profile read\'s exposure event');
    assert.equal(exposed.recent_events[0].event_properties.rec_id, 'r1');
    assert.deepEqual(exposed.recent_events[0].event_properties.items, rec.items);
    assert.deepEqual(types(exposed).filter((x) => x === EXPOSURE), [EXPOSURE]);
  });

  it('answers an Amplitude-dialect project the same way: custom over built-in properties as amp_props has them', async () => {
    const server = h.server;
    const c = await sdkClient(server, Q.api_key);
    const user = uid('con-amp');
    await sdkTrack(c, [[{ event_type: 'Purchase', user_properties: { plan: 'basic', platform: 'custom' } }, undefined, { user_id: user, device_id: uid('con-ampdev') }]]);
    const body = await lookupOk(Q, `user_id=${encodeURIComponent(user)}`);
    const read = await server.userData({ user_id: user, get_amp_props: 'true', get_cohort_ids: 'true', get_computations: 'true' }, { secret: Q.secret_key });
    const { 'computed-prop-5': count, ...props } = read.amp_props;
    assert.deepEqual({ ...body.amp_props, ...body.user_properties }, props);
    assert.equal(body.user_properties.platform, 'custom');
    assert.deepEqual(body.computed_properties, { 5: 1 });
    assert.equal(count, '1');
    assert.deepEqual(body.cohort_ids, read.cohort_ids);
    assert.deepEqual(body.cohort_ids, ['any']);
    assert.deepEqual(body.recommendations, []);
    assert.deepEqual(body.groups, {});
    assert.deepEqual(types(body), ['Purchase']);
  });

  it('events_hours bounds the log scan by ingest time', async () => {
    const server = h.server;
    const c = await sdkClient(server, Q.api_key);
    const user = uid('con-hours');
    await sdkTrack(c, [['Purchase', {}, { user_id: user }]]);
    try {
      await server.setClockOffset(2 * 3600 * 1000 + 60000);
      assert.deepEqual(types(await lookupOk(Q, `user_id=${user}&events_hours=2`)), []);
      assert.deepEqual(types(await lookupOk(Q, `user_id=${user}`)), ['Purchase']);
    } finally {
      await server.setClockOffset(0);
    }
  });

  it('404 for an unknown user or project, 400 naming the parameter, 401 without the token, 405 for other methods', async () => {
    for (const query of ['user_id=nobody-at-all', 'device_id=no-such-device', 'amplitude_id=987654321']) {
      const res = await lookup(P, query);
      assert.equal(res.status, 404, query);
      assert.deepEqual(res.json, { error: 'No such user' });
    }
    const project = await h.server.admin('GET', '/projects/nope/users?user_id=someone');
    assert.equal(project.status, 404);
    assert.deepEqual(project.json, { error: 'Unknown project: nope' });
    const bad = {
      '': 'give exactly one of user_id, device_id, amplitude_id, got 0',
      'user_id=abcde&device_id=fghij': 'give exactly one of user_id, device_id, amplitude_id, got 2',
      'user_id=abcde&amplitude_id=1': 'give exactly one of user_id, device_id, amplitude_id, got 2',
      'user_id=': 'user_id must not be empty',
      'user_id=abcde&user_id=fghij': 'user_id is given twice',
      'amplitude_id=0': 'amplitude_id must be an integer from 1 to 9223372036854775807, got "0"',
      'amplitude_id=-3': 'amplitude_id must be an integer from 1 to 9223372036854775807, got "-3"',
      'amplitude_id=1e3': 'amplitude_id must be an integer from 1 to 9223372036854775807, got "1e3"',
      'amplitude_id=99999999999999999999': 'amplitude_id must be an integer from 1 to 9223372036854775807, got "99999999999999999999"',
      'user_id=abcde&events_hours=0': 'events_hours must be an integer from 1 to 168, got "0"',
      'user_id=abcde&events_hours=169': 'events_hours must be an integer from 1 to 168, got "169"',
      'user_id=abcde&events_hours=1.5': 'events_hours must be an integer from 1 to 168, got "1.5"',
      'user_id=abcde&events_hours=week': 'events_hours must be an integer from 1 to 168, got "week"',
      'user_id=abcde&get_recs=true': 'unknown parameter "get_recs": the lookup takes one of user_id, device_id, amplitude_id, and events_hours',
      'user_id=%E0%A4%A': 'malformed query string',
      // No event can carry an id longer than ingestion takes (1024 characters).
      [`user_id=${'u'.repeat(5000)}`]: 'user_id is longer than 1024 characters: no event can have it',
      [`device_id=${'d'.repeat(1025)}`]: 'device_id is longer than 1024 characters: no event can have it',
    };
    for (const [query, error] of Object.entries(bad)) {
      const res = await lookup(P, query);
      assert.equal(res.status, 400, `${query.slice(0, 80)}: ${res.text}`);
      assert.deepEqual(res.json, { error }, query.slice(0, 80));
    }
    assert.equal((await lookup(P, `device_id=${'d'.repeat(1024)}`)).status, 404); // the longest id: looked up
    const projectsQuery = await h.server.admin('GET', '/projects?x=1');
    assert.equal(projectsQuery.status, 400);
    assert.deepEqual(projectsQuery.json, { error: 'unknown parameter "x": GET /admin/v1/projects takes no parameters' });
    for (const path of ['/projects', '/stats', `/projects/${P.id}/users?user_id=abcde`]) {
      for (const token of [null, 'wrong-token', P.secret_key]) {
        const res = await h.server.admin('GET', path, undefined, { token });
        assert.equal(res.status, 401, `${path} with ${token}`);
        assert.match(res.json.error, token === null ? /Bearer/ : /^Invalid admin token$/);
      }
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await h.server.admin(method, path, {});
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.deepEqual(res.json, { error: 'Method not allowed: use GET' });
        assert.equal(res.headers.allow, 'GET, OPTIONS', `${method} ${path}`);
      }
    }
  });

  it('samples the ingestion rate and every project\'s cohort sizes', async () => {
    const server = h.server;
    const c = await sdkClient(server, Q.api_key);
    const users = [uid('con-rate'), uid('con-rate'), uid('con-rate')];
    await sdkTrack(c, users.map((u) => [{ event_type: 'Purchase', user_properties: { plan: 'rate' } }, undefined, { user_id: u }]));
    const stats = await until(async () => {
      const res = await server.admin('GET', '/stats');
      assert.equal(res.status, 200, res.text);
      return res.json.rates.samples.some((x) => x.events_ingested_per_second > 0) ? res.json : null;
    }, 'a rate sample with events');
    assert.equal(stats.rates.interval_seconds, 1);
    assert.ok(stats.rates.samples.length <= 360);
    const ts = stats.rates.samples.map((x) => x.t);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
    assert.ok(stats.rates.samples.some((x) => x.requests_per_second > 0));
    assert.deepEqual(Object.keys(stats.cohort_sizes), [Q.id, P.id].sort());
    assert.equal(stats.cohort_sizes[P.id].interval_seconds, 1);

    // The latest cohort sample of each project equals its cohorts' member lists.
    const members = async (p, id) => {
      const res = await server.admin('GET', `/projects/${p.id}/cohorts/${id}/members?format=jsonl`);
      assert.equal(res.status, 200, res.text);
      return res.text.split('\n').filter((l) => l !== '').length;
    };
    const expected = { [P.id]: { pros: await members(P, 'pros') }, [Q.id]: { any: await members(Q, 'any') } };
    assert.ok(expected[P.id].pros >= 1 && expected[Q.id].any >= 4, JSON.stringify(expected));
    await until(async () => {
      const s = (await server.adminOk('GET', '/stats')).cohort_sizes;
      const latest = Object.fromEntries(Object.entries(s).map(([p, v]) => [p, v.samples.at(-1)?.sizes]));
      return isDeepStrictEqual(latest, expected);
    }, `cohort size samples equal to ${JSON.stringify(expected)}`);
  });

  it('?project= serves one project\'s cohort sizes and ?since= only newer samples; 400 naming a bad parameter, 404 an unknown project', async () => {
    const server = h.server;
    const full = await until(async () => {
      const s = await server.adminOk('GET', '/stats');
      return s.rates.samples.length >= 3 && s.cohort_sizes[P.id].samples.length >= 3 ? s : null;
    }, 'three rate and cohort samples');
    assert.equal(typeof full.started, 'number');
    assert.ok(full.started <= full.now);

    const one = await server.adminOk('GET', `/stats?project=${P.id}`);
    assert.deepEqual(Object.keys(one.cohort_sizes), [P.id]);
    assert.equal(one.started, full.started);
    assert.ok(one.cohort_sizes[P.id].samples.length >= 3);

    // Only samples after `since`, of both kinds; the one at `since` is not repeated.
    const since = full.rates.samples.at(-2).t;
    const newer = await server.adminOk('GET', `/stats?since=${since}`);
    assert.ok(newer.rates.samples.length >= 1);
    assert.ok(newer.rates.samples.every((x) => x.t > since), JSON.stringify(newer.rates.samples));
    assert.ok(newer.rates.samples.some((x) => x.t === full.rates.samples.at(-1).t));
    assert.deepEqual(Object.keys(newer.cohort_sizes), [Q.id, P.id].sort());
    for (const v of Object.values(newer.cohort_sizes)) assert.ok(v.samples.every((x) => x.t > since));
    const cohortSince = one.cohort_sizes[P.id].samples.at(-2).t;
    const both = await server.adminOk('GET', `/stats?project=${P.id}&since=${cohortSince}`);
    assert.ok(both.cohort_sizes[P.id].samples.length >= 1);
    assert.ok(both.cohort_sizes[P.id].samples.every((x) => x.t > cohortSince));
    const none = await server.adminOk('GET', `/stats?project=${Q.id}&since=${full.now + 3600}`);
    assert.deepEqual(none.rates.samples, []);
    assert.deepEqual(none.cohort_sizes, { [Q.id]: { interval_seconds: 1, samples: [] } });

    const unknown = await server.admin('GET', '/stats?project=nope');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json, { error: 'Unknown project: nope' });
    const bad = {
      'project=': 'project must not be empty',
      [`project=${P.id}&project=${Q.id}`]: 'project is given twice',
      'since=-1': 'since must be an integer from 0 to 100000000000 (Unix seconds), got "-1"',
      'since=soon': 'since must be an integer from 0 to 100000000000 (Unix seconds), got "soon"',
      'since=1&since=2': 'since is given twice',
      'x=1': 'unknown parameter "x": the stats take project and since',
    };
    for (const [query, error] of Object.entries(bad)) {
      const res = await server.admin('GET', `/stats?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.deepEqual(res.json, { error }, query);
    }
  });
});
