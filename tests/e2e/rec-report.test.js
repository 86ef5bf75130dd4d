// A recommendation's offline and online figures (issue 10 item 5, docs/RECS.md "Offline
// figures" and "Online report"): `training.offline` after a training, and GET
// .../recommendations/{id}/report counting, from the event log, the users exposed in the
// control and treatment groups (by their first exposure) and those who converted after it.
//
// Users interact through the official @amplitude/analytics-node SDK; profile reads with
// get_recs log the exposures; the report's counts are asserted exactly.
import assert from 'node:assert/strict';
import { describe, it, sharedServer, uid } from './harness.js';
import { daysAgo, makeProjects, putReady, sdkClient, sdkTrack, until } from './compute-helpers.js';

const [P] = makeProjects('rrep', 1, 'seed');
const CLUSTERS = 4;
const PER_CLUSTER = 6;
const item = (c, i) => `sku-${c}-${i}`;

const REC = {
  title: 'For you',
  model: 'ease',
  item_event: 'Product Viewed',
  item_property: 'product_id',
  history_window_days: 30,
  candidates: { top_n: 1000 },
  exclude_seen: true,
  max_items: 3,
  control_percentage: 50,
  retrain_every_minutes: 0,
  params: { lambda: 10 },
};

async function recOf(server, user, extra = {}) {
  const data = await server.userData({ user_id: user, get_recs: 'true', rec_id: 'r1', ...extra }, { secret: P.secret_key });
  assert.equal(data.recommendations.length, 1);
  return data.recommendations[0];
}

const reportPath = (query) => `/projects/${P.id}/recommendations/r1/report${query}`;

describe('a recommendation\'s offline figures and online report', () => {
  const s = sharedServer({ projects: [P] });
  let sdk;

  it('measures the model offline at every training', async () => {
    const server = s.server;
    sdk = await sdkClient(server, P.api_key);
    // 10 training users per cluster, each viewing 4 of its 6 items, one a second apart.
    const events = [];
    for (let c = 0; c < CLUSTERS; c++) {
      for (let u = 0; u < 10; u++) {
        for (let k = 0; k < 4; k++) {
          events.push(['Product Viewed', { product_id: item(c, (u + k) % PER_CLUSTER) },
            { user_id: `train-${c}-${u}`, time: daysAgo(2) + k * 1000, insert_id: uid('ins') }]);
        }
      }
    }
    await sdkTrack(sdk, events);
    await putReady(server, P.id, 'recommendations', 'r1', REC);
    // Measured right after the model serves: null until then.
    const d = await until(async () => {
      const r = await server.adminOk('GET', `/projects/${P.id}/recommendations/r1`);
      return r.training.status === 'ready' && r.training.offline ? r : null;
    }, 'r1 to be trained and measured');
    const off = d.training.offline;
    assert.ok(off, JSON.stringify(d.training));
    assert.equal(off.holdout, 'last interaction');
    assert.equal(off.k, 10);
    assert.equal(off.users, CLUSTERS * 10);
    // Each user's newest view is of their own cluster, whose other 2 unseen items rank first.
    assert.ok(off.hit_rate >= 0.9 && off.hit_rate <= 1, `hit rate ${off.hit_rate}`);
    assert.ok(off.ndcg > 0.3 && off.ndcg <= off.hit_rate, `ndcg ${off.ndcg}`);

    // Trained again on demand: measured again, the same users drawn, the same figures.
    const before = d.training.trainings;
    assert.equal((await server.admin('POST', `/projects/${P.id}/recommendations/r1/train`)).status, 202);
    const again = await until(async () => {
      const r = await server.adminOk('GET', `/projects/${P.id}/recommendations/r1`);
      return r.training.trainings > before && r.training.offline ? r : null;
    }, 'r1 to be trained and measured again');
    assert.deepEqual(again.training.offline, off);
  });

  it('counts exposures by first-exposure group and conversions after it, exactly', async () => {
    const server = s.server;
    const users = Array.from({ length: 24 }, () => uid('shopper'));
    await sdkTrack(sdk, users.map((u, i) => ['Product Viewed', { product_id: item(i % CLUSTERS, 0) }, { user_id: u }]));
    const control = [];
    const treatment = [];
    for (const u of users) ((await recOf(server, u)).is_control ? control : treatment).push(u);
    assert.ok(control.length >= 2 && treatment.length >= 4, `control ${control.length}, treatment ${treatment.length}`);
    // A second exposure of a control user, served the model: still counted in control.
    const again = await recOf(server, control[0], { rec_type: 'model' });
    assert.equal(again.is_control, false);
    // Conversions: 2 control users, 3 treatment users after their exposure; one treatment
    // user's purchase is dated before the exposure (not a conversion); a user never exposed
    // buys too (not counted); another event type is not a conversion.
    const now = Date.now();
    await sdkTrack(sdk, [
      ...control.slice(0, 2).map((u) => ['Purchase', {}, { user_id: u, time: now + 1000 }]),
      ...treatment.slice(0, 3).map((u) => ['Purchase', {}, { user_id: u, time: now + 1000 }]),
      ['Purchase', {}, { user_id: treatment[3], time: now - 3600 * 1000 }],
      ['Purchase', {}, { user_id: uid('never-shown'), time: now + 1000 }],
      ['Wishlist', {}, { user_id: control[2] ?? control[0], time: now + 1000 }],
    ]);
    const exposures = users.length + 1;
    const report = await until(async () => {
      const r = await server.adminOk('GET', reportPath('?conversion_event=Purchase'));
      return r.control.exposures + r.treatment.exposures === exposures && r.control.converted_users + r.treatment.converted_users === 5 ? r : null;
    }, 'the exposures and purchases to be logged');
    assert.equal(report.rec_id, 'r1');
    assert.equal(report.conversion_event, 'Purchase');
    assert.equal(report.days, 7);
    assert.ok(Math.abs(report.since - (Date.now() / 1000 - 7 * 86400)) < 120, `since ${report.since}`);
    assert.deepEqual(report.control, { users: control.length, exposures: control.length + 1, converted_users: 2, conversion_rate: 2 / control.length });
    assert.deepEqual(report.treatment, { users: treatment.length, exposures: treatment.length, converted_users: 3, conversion_rate: 3 / treatment.length });
    assert.equal(report.lift, (3 / treatment.length) / (2 / control.length) - 1);
    assert.ok(report.events_scanned >= events(users.length), `events_scanned ${report.events_scanned}`);
    assert.equal(report.truncated, false);  // far under the 5,000,000-entry cap

    // No control conversion: the lift is null, the rest still counted.
    const wish = await server.adminOk('GET', reportPath('?conversion_event=Wishlist&days=1'));
    assert.equal(wish.days, 1);
    assert.equal(wish.control.converted_users, 1);
    assert.equal(wish.treatment.converted_users, 0);
    assert.equal(wish.lift, -1);
    const none = await server.adminOk('GET', reportPath('?conversion_event=Never%20Happened&days=90'));
    assert.equal(none.control.converted_users + none.treatment.converted_users, 0);
    assert.equal(none.control.conversion_rate, 0);
    assert.equal(none.lift, null);
  });

  it('refuses a bad query with 400 naming it, an unknown rec with 404, a wrong token with 401', async () => {
    const server = s.server;
    for (const [query, word] of [
      ['', 'conversion_event'],
      ['?conversion_event=', 'conversion_event'],
      ['?days=3', 'conversion_event'],
      ['?conversion_event=%5BRecs%5D%20Recommendation%20Event', 'conversion_event'],
      ['?conversion_event=Purchase&days=0', 'days'],
      ['?conversion_event=Purchase&days=91', 'days'],
      ['?conversion_event=Purchase&days=week', 'days'],
      ['?conversion_event=Purchase&dayz=3', 'dayz'],
    ]) {
      const res = await server.admin('GET', reportPath(query));
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.ok(res.json.error.includes(word), `${query}: ${res.json.error}`);
    }
    const unknown = await server.admin('GET', `/projects/${P.id}/recommendations/nope/report?conversion_event=Purchase`);
    assert.equal(unknown.status, 404);
    const project = await server.admin('GET', `/projects/nope/recommendations/r1/report?conversion_event=Purchase`);
    assert.equal(project.status, 404);
    const token = await server.admin('GET', reportPath('?conversion_event=Purchase'), undefined, { token: 'wrong' });
    assert.equal(token.status, 401);
    const post = await server.admin('POST', reportPath('?conversion_event=Purchase'));
    assert.equal(post.status, 405);
  });
});

// The log entries the counting test adds at least: a view and an exposure per user.
function events(users) {
  return 2 * users;
}
