// Recommendations served in the profile (issue 7, docs/RECS.md "Serving" and "Training in
// the server"): definitions over the admin API, training in the server, both dialects,
// control groups, rec_type overrides, a new event changing the next read, exposure events.
//
// The data has planted structure: items belong to clusters, and every training user views
// items of one cluster only, so a user whose history is in cluster c must be recommended
// the other items of c, whatever the model.
import assert from 'node:assert/strict';
import { describe, it, sharedServer, uid } from './harness.js';
import { daysAgo, makeProjects, putAllReady, putReady, until } from './compute-helpers.js';

const [SEED_P] = makeProjects('rseed', 1, 'seed');
const [AMP_P] = makeProjects('ramp', 1, 'amplitude');
const CLUSTERS = 5;
const PER_CLUSTER = 8;
const item = (c, i) => `sku-${c}-${i}`;
const clusterOf = (sku) => Number(sku.split('-')[1]);

// Training users: 12 per cluster, each viewing 5 of its 8 items (a different 5 each time).
function trainingEvents(prefix) {
  const events = [];
  for (let c = 0; c < CLUSTERS; c++) {
    for (let u = 0; u < 12; u++) {
      for (let k = 0; k < 5; k++) {
        events.push({
          user_id: `${prefix}-train-${c}-${u}`,
          event_type: 'Product Viewed',
          time: daysAgo(2) + k,
          event_properties: { product_id: item(c, (u + k) % PER_CLUSTER) },
        });
      }
    }
  }
  return events;
}

const REC = {
  title: 'Recommended for you',
  model: 'ease',
  item_event: 'Product Viewed',
  item_property: 'product_id',
  history_window_days: 30,
  candidates: { top_n: 1000 },
  exclude_items: [item(2, 7)],
  exclude_seen: true,
  max_items: 5,
  control_percentage: 0,
  control_group_of: null,
  retrain_every_minutes: 60,
  params: { lambda: 10 },
};

async function view(server, project, user, skus) {
  await server.trackOk(
    skus.map((sku, k) => ({ user_id: user, event_type: 'Product Viewed', time: Date.now() - 1000 + k, event_properties: { product_id: sku } })),
    { apiKey: project.api_key },
  );
}

async function trained(server, project, id) {
  return until(async () => {
    const d = await server.adminOk('GET', `/projects/${project.id}/recommendations/${id}`);
    return d.training && d.training.status === 'ready' ? d : null;
  }, `recommendation ${id} of ${project.id} to be trained`);
}

async function recsOf(server, project, user, extra = {}) {
  const data = await server.userData({ user_id: user, get_recs: 'true', ...extra }, { secret: project.secret_key });
  return data.recommendations;
}

describe('recommendations served in the profile', () => {
  const s = sharedServer({ projects: [SEED_P, AMP_P] });

  it('trains over the admin API and reports the model', async () => {
    const server = s.server;
    await server.trackOk(trainingEvents('s'), { apiKey: SEED_P.api_key });
    const put = await putReady(server, SEED_P.id, 'recommendations', 'r1', REC);
    assert.equal(put.id, 'r1');
    assert.equal(put.model, 'ease');
    const d = await trained(server, SEED_P, 'r1');
    assert.equal(d.training.model, 'ease');
    assert.equal(d.training.users, CLUSTERS * 12);
    assert.equal(d.training.items, CLUSTERS * PER_CLUSTER);
    assert.equal(d.training.interactions, CLUSTERS * 12 * 5);
    assert.ok(Math.abs(d.training.last_trained_at - Date.now() / 1000) < 600);
    assert.equal(typeof d.training.duration_seconds, 'number');

    // Training on demand: 202, then one training more.
    const before = d.training.trainings;
    const post = await server.admin('POST', `/projects/${SEED_P.id}/recommendations/r1/train`);
    assert.equal(post.status, 202, post.text);
    assert.equal(post.json.training.requested, true);
    await until(async () => {
      const list = await server.adminOk('GET', `/projects/${SEED_P.id}/recommendations`);
      assert.deepEqual(list.recommendations.map((r) => r.id), ['r1']);
      return list.recommendations[0].training.trainings > before;
    }, 'the requested training');
    const none = await server.admin('POST', `/projects/${SEED_P.id}/recommendations/nope/train`);
    assert.equal(none.status, 404);
  });

  it('serves the cluster of the history, in the seed dialect, without seen or excluded items', async () => {
    const server = s.server;
    const user = uid('seed-user');
    await view(server, SEED_P, user, [item(2, 0), item(2, 1), item(2, 2)]);
    const recs = await recsOf(server, SEED_P, user, { rec_id: 'r1' });
    assert.equal(recs.length, 1);
    const r = recs[0];
    assert.equal(r.rec_id, 'r1');
    assert.equal(r.title, 'Recommended for you');
    assert.equal(r.is_control, false);
    assert.equal(r.recommendation_type, 'ease');
    // Cluster 2 holds 8 items: 3 seen, 1 excluded, so 4 remain, and they come first.
    assert.deepEqual(r.child_ids.slice(0, 4).map(clusterOf), [2, 2, 2, 2]);
    assert.equal(r.child_ids.length, 5);
    for (const sku of [item(2, 0), item(2, 1), item(2, 2), item(2, 7)]) assert.ok(!r.child_ids.includes(sku), sku);
    assert.equal(new Set(r.child_ids).size, r.child_ids.length);

    // limit narrows; an unknown rec_id is left out and the rest answers.
    const two = await recsOf(server, SEED_P, user, { rec_id: 'nope,r1', limit: '2' });
    assert.equal(two.length, 1);
    assert.deepEqual(two[0].child_ids, r.child_ids.slice(0, 2));
    // Without get_recs the seed dialect has no recommendations.
    const plain = await server.userData({ user_id: user }, { secret: SEED_P.secret_key });
    assert.equal(plain.recommendations, undefined);
  });

  it('reacts to a new event on the next read', async () => {
    const server = s.server;
    const user = uid('rt-user');
    await view(server, SEED_P, user, [item(1, 0)]);
    const first = (await recsOf(server, SEED_P, user, { rec_id: 'r1' }))[0].child_ids;
    assert.equal(clusterOf(first[0]), 1);
    await view(server, SEED_P, user, [item(3, 0), item(3, 1), item(3, 2)]);
    const next = (await recsOf(server, SEED_P, user, { rec_id: 'r1' }))[0].child_ids;
    assert.equal(clusterOf(next[0]), 3, `after viewing cluster 3: ${next}`);
    for (const sku of [item(3, 0), item(3, 1), item(3, 2), item(1, 0)]) assert.ok(!next.includes(sku), sku);
  });

  it('gives a user with no history the most viewed items', async () => {
    const server = s.server;
    const user = uid('cold-user');
    await server.trackOk([{ user_id: user, event_type: 'Signed Up' }], { apiKey: SEED_P.api_key });
    const r = (await recsOf(server, SEED_P, user, { rec_id: 'r1' }))[0];
    assert.equal(r.child_ids.length, 5);
    assert.equal(r.recommendation_type, 'ease');
    assert.ok(!r.child_ids.includes(item(2, 7)));
  });

  it('keeps a control group within binomial bounds, stable, with rec_type overrides', async () => {
    const server = s.server;
    await putReady(server, SEED_P.id, 'recommendations', 'r2', { ...REC, control_percentage: 30, exclude_items: [] });
    await trained(server, SEED_P, 'r2');
    const n = 200;
    const users = Array.from({ length: n }, (_, i) => uid(`ctl-${i}`));
    await server.trackOk(users.map((u) => ({ user_id: u, event_type: 'Product Viewed', event_properties: { product_id: item(0, 0) } })), { apiKey: SEED_P.api_key });
    let control = 0;
    for (const u of users) {
      const r = (await recsOf(server, SEED_P, u, { rec_id: 'r2' }))[0];
      assert.equal(r.recommendation_type, r.is_control ? 'random' : 'ease');
      if (r.is_control) control++;
    }
    // p = 0.3, n = 200: mean 60, sd 6.5; 4.5 sd either way fails once in ~150,000 runs,
    // and the assignment is a fixed hash of ids that change with every run.
    assert.ok(control >= 31 && control <= 89, `control users: ${control} of ${n}`);

    // A control user gets random candidates, the same ones on every read of the day.
    const ctl = [];
    for (const u of users) {
      const r = (await recsOf(server, SEED_P, u, { rec_id: 'r2' }))[0];
      if (r.is_control) ctl.push([u, r.child_ids]);
      if (ctl.length === 3) break;
    }
    for (const [u, ids] of ctl) assert.deepEqual((await recsOf(server, SEED_P, u, { rec_id: 'r2' }))[0].child_ids, ids);

    // rec_type overrides the assignment for one read.
    const [cu] = ctl[0];
    const model = (await recsOf(server, SEED_P, cu, { rec_id: 'r2', rec_type: 'model' }))[0];
    assert.equal(model.is_control, false);
    assert.equal(model.recommendation_type, 'ease');
    assert.equal(clusterOf(model.child_ids[0]), 0);
    const rnd = (await recsOf(server, SEED_P, users.find((u) => !ctl.some(([c]) => c === u)), { rec_id: 'r2', rec_type: 'random' }))[0];
    assert.equal(rnd.is_control, true);
    assert.equal(rnd.recommendation_type, 'random');
    const bad = await server.profile({ user_id: cu, get_recs: 'true', rec_type: 'best' }, { secret: SEED_P.secret_key });
    assert.equal(bad.status, 400);
  });

  it('appends an exposure event per served recommendation, which is not activity', async () => {
    const server = s.server;
    const EXPOSURE = '[Recs] Recommendation Event';
    await putAllReady(server, SEED_P.id, [
      ['computations', '1', { id: 1, name: 'exposures', type: 'count', event_type: EXPOSURE }],
      ['computations', '2', { id: 2, name: 'last shown', type: 'last', event_type: EXPOSURE, property: 'items' }],
      ['computations', '3', { id: 3, name: 'last rec', type: 'last', event_type: EXPOSURE, property: 'rec_id' }],
      ['computations', '4', { id: 4, name: 'active', type: 'count', event_type: '_active' }],
    ]);
    // A short user id, accepted with min_id_length 1: its exposures are recorded too.
    const user = `e${Math.floor(Math.random() * 1000)}`;
    await server.trackOk([{ user_id: user, event_type: 'Product Viewed', event_properties: { product_id: item(4, 0) } }],
      { apiKey: SEED_P.api_key, options: { min_id_length: 1 } });
    const recsReads = (m) => m.get('profiled_http_requests_total{route="/v1/userprofile?get_recs",status="200"}') ?? 0;
    const before = await server.metrics();
    await recsOf(server, SEED_P, user, { rec_id: 'r1' });
    // /metrics times reads that served recommendations apart from plain reads.
    assert.equal(recsReads(await server.metrics()) - recsReads(before), 1);
    // Each id once: r1 asked twice is served (and exposed) once.
    const last = await recsOf(server, SEED_P, user, { rec_id: 'r1,r1,r2' });
    assert.deepEqual(last.map((r) => r.rec_id), ['r1', 'r2']);
    const d = await until(async () => {
      const data = await server.userData({ user_id: user }, { secret: SEED_P.secret_key });
      return data.computed_properties['1'] === 3 ? data : null;
    }, 'three exposure events to be counted');
    assert.equal(d.computed_properties['3'], 'r2');
    assert.deepEqual(d.computed_properties['2'], last[1].child_ids);
    // Being shown recommendations is not activity: one event of the user's own.
    assert.equal(d.computed_properties['4'], 1);
    const bad = await server.profile({ user_id: user, get_recs: 'true', rec_id: Array.from({ length: 21 }, (_, i) => `r${i}`).join(',') }, { secret: SEED_P.secret_key });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /rec_id/);
  });

  it('never serves a model trained for an earlier version of the definition', async () => {
    const server = s.server;
    await putReady(server, SEED_P.id, 'recommendations', 'r3', { ...REC, exclude_items: [] });
    await trained(server, SEED_P, 'r3');
    const user = uid('ver-user');
    await view(server, SEED_P, user, [item(1, 0)]);
    assert.equal(clusterOf((await recsOf(server, SEED_P, user, { rec_id: 'r3' }))[0].child_ids[0]), 1);
    // The new version reads another property, which no event has: no item of the old model
    // may be served from now on.
    await putReady(server, SEED_P.id, 'recommendations', 'r3', { ...REC, exclude_items: [], item_property: 'color' });
    for (let i = 0; i < 20; i++) {
      const recs = await recsOf(server, SEED_P, user, { rec_id: 'r3' });
      for (const r of recs) assert.deepEqual(r.child_ids, [], `read ${i}: ${r.child_ids}`);
    }
    await until(async () => (await recsOf(server, SEED_P, user, { rec_id: 'r3' })).length === 1, 'the new version to be trained');
  });

  it('answers in the Amplitude dialect', async () => {
    const server = s.server;
    await server.trackOk(trainingEvents('a'), { apiKey: AMP_P.api_key });
    await putReady(server, AMP_P.id, 'recommendations', 'ra', { ...REC, model: 'itemknn', params: {} });
    const d = await trained(server, AMP_P, 'ra');
    assert.equal(d.training.model, 'itemknn');
    const user = uid('amp-user');
    await view(server, AMP_P, user, [item(4, 0), item(4, 1)]);
    const data = await server.userData({ user_id: user, get_recs: 'true' }, { secret: AMP_P.secret_key });
    assert.equal(data.recommendations.length, 1);
    const r = data.recommendations[0];
    assert.deepEqual(Object.keys(r).sort(), ['child_rec_id', 'is_control', 'items', 'last_updated', 'rec_id', 'recommendation_source']);
    assert.equal(r.rec_id, 'ra');
    assert.equal(r.child_rec_id, 'ra');
    assert.equal(r.is_control, false);
    assert.equal(r.recommendation_source, 'itemknn');
    assert.equal(r.last_updated, d.training.last_trained_at);
    assert.equal(clusterOf(r.items[0]), 4);
    const none = await server.userData({ user_id: user }, { secret: AMP_P.secret_key });
    assert.equal(none.recommendations, null);
  });

  it('refuses a bad definition, naming the field', async () => {
    const server = s.server;
    for (const [body, field] of [
      [{ ...REC, model: 'deep' }, 'model'],
      [{ ...REC, max_items: 0 }, 'max_items'],
      [{ ...REC, control_percentage: 101 }, 'control_percentage'],
      [{ ...REC, params: { lambda: -1 } }, 'lambda'],
      [{ ...REC, item_event: '' }, 'item_event'],
    ]) {
      const res = await server.admin('PUT', `/projects/${SEED_P.id}/recommendations/bad`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.error, new RegExp(field));
    }
    const get = await server.admin('GET', `/projects/${SEED_P.id}/recommendations/bad`);
    assert.equal(get.status, 404);
    // A computation id that is not a number is a 400 too, and the server goes on.
    for (const id of ['abc', '99999999999999999999999']) {
      const res = await server.admin('PUT', `/projects/${SEED_P.id}/computations/${id}`, { name: 'x', type: 'count', event_type: 'x' });
      assert.equal(res.status, 400, res.text);
    }
    assert.equal((await server.request('GET', '/healthz')).status, 200);
  });
});
