// Backfills (issue 6, docs/COMPUTE.md "Definitions and backfills"): a definition created after
// its events is computed from the retained event log while ingestion and reads go on. Its GET
// says "backfilling" with progress, then "ready"; reads report it only when ready, and a
// changed definition serves its old version until the new one is ready. A crash or a stop in
// the middle of a backfill resumes it, never leaving half a result or counting twice.
//
// `[testing] backfill_chunk_events = 5` and `backfill_chunk_delay_ms` make backfills slow
// enough to be seen: each chunk of 5 logged events waits that long.
import assert from 'node:assert/strict';
import { describe, it, sharedServer, startServer, uid } from './harness.js';
import {
  cohort,
  cohortApiOk,
  daysAgo,
  eventCond,
  getDefinition,
  makeProjects,
  sdkClient,
  sdkTrack,
  until,
  waitReady,
} from './compute-helpers.js';

const P = makeProjects('bf', 5, 'seed');
const SLOW = { backfill_chunk_events: 5, backfill_chunk_delay_ms: 100 };
const LESS_SLOW = { backfill_chunk_events: 5, backfill_chunk_delay_ms: 40 };

// Ten users; user i made i+1 purchases, the j-th (j = 0..i) of price j+1 dated 4j days ago
// (so those with j >= 8, 32 days and older, are out of a 30-day window), plus one Page View
// each: 55 purchases and 10 other events, in time order per user.
function history(users) {
  const events = [];
  users.forEach((user, i) => {
    events.push(['Page View', { page: 'home' }, { user_id: user, time: daysAgo(50) }]);
    for (let j = i; j >= 0; j--) {
      events.push(['Purchase', { price: j + 1, category: j % 2 === 0 ? 'books' : 'toys' }, { user_id: user, time: daysAgo(4 * j) }]);
    }
  });
  return events;
}

// What the definitions below give for user i of history().
function expected(i) {
  const n = i + 1;
  const in30 = Math.min(n, 8);
  return { 1: n, 2: (n * (n + 1)) / 2, 3: in30 };
}

const DEFS = {
  1: { name: 'purchases', type: 'count', event_type: 'Purchase' },
  2: { name: 'spent', type: 'sum', event_type: 'Purchase', property: 'price' },
  3: { name: 'purchases 30d', type: 'count', event_type: 'Purchase', window_days: 30 },
};
// Users with at least 5 purchases in 30 days: users 4..9.
const BUYERS = cohort('buyers', eventCond('Purchase', '>=', 5, { days: 30 }));

async function putAll(server, project) {
  const answers = [];
  for (const [id, def] of Object.entries(DEFS)) answers.push(await server.adminOk('PUT', `/projects/${project.id}/computations/${id}`, def));
  answers.push(await server.adminOk('PUT', `/projects/${project.id}/cohorts/buyers`, BUYERS));
  return answers;
}

async function waitAllReady(server, project) {
  for (const id of Object.keys(DEFS)) await waitReady(server, project.id, 'computations', id);
  await waitReady(server, project.id, 'cohorts', 'buyers');
}

async function checkValues(server, project, users, extra = {}) {
  for (let i = 0; i < users.length; i++) {
    const d = await server.userData({ user_id: users[i] }, { secret: project.secret_key });
    const want = { ...expected(i), ...(extra[i] ?? {}) };
    assert.deepEqual(d.computed_properties, Object.fromEntries(Object.entries(want).map(([k, v]) => [String(k), v])), `user ${i}`);
    assert.deepEqual(d.cohort_ids, want[3] >= 5 ? ['buyers'] : [], `user ${i} cohorts`);
  }
}

describe('backfill of definitions created after their events', () => {
  const h = sharedServer({ projects: [P[0], P[1]], testing: SLOW });

  it('GET says backfilling with progress, then ready; reads report the definition only when ready; live events count once', async () => {
    const s = h.server;
    const p = P[0];
    const c = await sdkClient(s, p.api_key);
    const users = Array.from({ length: 10 }, (_, i) => uid(`bf-u${i}`));
    await sdkTrack(c, history(users));

    const answers = await putAll(s, p);
    for (const a of answers) {
      assert.equal(a.status, 'backfilling', JSON.stringify(a));
      assert.equal(typeof a.progress, 'number');
      assert.equal(typeof a.events_scanned, 'number');
    }
    assert.equal(answers[0].name, 'purchases');
    assert.equal(answers[0].id, 1);
    assert.equal(answers[3].id, 'buyers');

    // While backfilling: GET shows progress moving, reads show neither the computations nor
    // the cohort, the list and the cohort API say so too.
    const seen = await until(async () => {
      const d = await getDefinition(s, p.id, 'computations', 1);
      return d.status === 'backfilling' && d.events_scanned > 0 ? d : d.status === 'ready' ? d : null;
    }, 'a backfill step');
    assert.equal(seen.status, 'backfilling', 'the backfill ended before it was seen; is backfill_chunk_delay_ms applied?');
    assert.ok(seen.progress >= 0 && seen.progress <= 1, JSON.stringify(seen));
    const mid = await s.userData({ user_id: users[9] }, { secret: p.secret_key });
    assert.deepEqual(mid.computed_properties, {});
    assert.deepEqual(mid.cohort_ids, []);
    const list = await s.adminOk('GET', `/projects/${p.id}/computations`);
    assert.deepEqual(list.computations.map((x) => [x.id, x.status]), [[1, 'backfilling'], [2, 'backfilling'], [3, 'backfilling']]);
    const api = await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, p);
    assert.deepEqual(api.cohorts.map((x) => [x.id, x.status, x.size]), [['buyers', 'backfilling', 0]]);
    const members = await s.admin('GET', `/projects/${p.id}/cohorts/buyers/members`);
    assert.equal(members.status, 404, 'a cohort is not served while it backfills');

    // Events sent during the backfill are applied live, and not again by the backfill.
    await sdkTrack(c, [
      ['Purchase', { price: 100 }, { user_id: users[0], time: daysAgo(1) }],
      ['Purchase', { price: 100 }, { user_id: users[0], time: daysAgo(2) }],
      ['Purchase', { price: 100 }, { user_id: users[0], time: daysAgo(3) }],
      ['Purchase', { price: 100 }, { user_id: users[0], time: daysAgo(40) }],
    ]);
    const later = await getDefinition(s, p.id, 'computations', 1);
    if (later.status === 'backfilling') assert.ok(later.events_scanned >= seen.events_scanned, JSON.stringify([seen, later]));

    await waitAllReady(s, p);
    const ready = await getDefinition(s, p.id, 'computations', 1);
    assert.equal(ready.progress, undefined);
    assert.equal(ready.events_scanned, undefined);
    // user 0: 1 + 4 purchases, 1 + 400, 1 + 3 in 30 days: still under 5.
    await checkValues(s, p, users, { 0: { 1: 5, 2: 401, 3: 4 } });
    const apiReady = await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, p);
    assert.deepEqual(apiReady.cohorts.map((x) => [x.id, x.status, x.size]), [['buyers', 'ready', 6]]);
  });

  it('a changed definition keeps serving its old version until the new one is ready', async () => {
    const s = h.server;
    const p = P[1];
    const c = await sdkClient(s, p.api_key);
    // Defined before the events, so their first backfill is over an empty log.
    await putAll(s, p);
    await waitAllReady(s, p);
    const users = Array.from({ length: 10 }, (_, i) => uid(`chg-u${i}`));
    await sdkTrack(c, history(users));
    await checkValues(s, p, users);

    // Computation 1 now counts books only; the cohort asks for 5 books purchases in 30 days.
    const books = [{ prop: 'category', op: 'is', values: ['books'] }];
    const changed = await s.adminOk('PUT', `/projects/${p.id}/computations/1`, { ...DEFS[1], name: 'books', where: books });
    assert.equal(changed.status, 'backfilling');
    const changedCohort = await s.adminOk('PUT', `/projects/${p.id}/cohorts/buyers`, cohort('book buyers', eventCond('Purchase', '>=', 3, { days: 30, filters: books })));
    assert.equal(changedCohort.status, 'backfilling');
    // Reads go on with the old versions.
    const d9 = await s.userData({ user_id: users[9] }, { secret: p.secret_key });
    assert.deepEqual(d9.computed_properties, { 1: 10, 2: 55, 3: 8 });
    assert.deepEqual(d9.cohort_ids, ['buyers']);
    const d5 = await s.userData({ user_id: users[5] }, { secret: p.secret_key });
    assert.deepEqual(d5.cohort_ids, ['buyers']);
    assert.equal((await getDefinition(s, p.id, 'computations', 1)).status, 'backfilling');

    await waitReady(s, p.id, 'computations', 1);
    await waitReady(s, p.id, 'cohorts', 'buyers');
    // Books are the even j: user 9 has j = 0,2,4,6,8 (5), in 30 days j = 0,2,4,6 (4).
    const after9 = await s.userData({ user_id: users[9] }, { secret: p.secret_key });
    assert.deepEqual(after9.computed_properties, { 1: 5, 2: 55, 3: 8 });
    assert.deepEqual(after9.cohort_ids, ['buyers']);
    // User 3: j = 0,2 are books: 2 in 30 days, under 3.
    const after3 = await s.userData({ user_id: users[3] }, { secret: p.secret_key });
    assert.deepEqual(after3.computed_properties, { 1: 2, 2: 10, 3: 4 });
    assert.deepEqual(after3.cohort_ids, []);
    const after4 = await s.userData({ user_id: users[4] }, { secret: p.secret_key });
    assert.deepEqual(after4.cohort_ids, ['buyers']);

    // A threshold-only change reuses the state: ready at once, no backfill.
    const threshold = await s.adminOk('PUT', `/projects/${p.id}/cohorts/buyers`, cohort('book buyers', eventCond('Purchase', '>=', 4, { days: 30, filters: books })));
    assert.equal(threshold.status, 'ready');
    assert.deepEqual((await s.userData({ user_id: users[9] }, { secret: p.secret_key })).cohort_ids, ['buyers']);
    assert.deepEqual((await s.userData({ user_id: users[4] }, { secret: p.secret_key })).cohort_ids, []);
  });
});

// Starts a slow-backfill server with history() loaded and the definitions put; resolves once
// the backfill has scanned some events but not all.
async function midBackfill(p) {
  const s = await startServer({ projects: [p], testing: LESS_SLOW });
  const c = await sdkClient(s, p.api_key);
  const users = Array.from({ length: 10 }, (_, i) => uid(`rs-u${i}`));
  await sdkTrack(c, history(users));
  await putAll(s, p);
  const d = await until(async () => {
    const g = await getDefinition(s, p.id, 'cohorts', 'buyers');
    return g.status !== 'backfilling' || g.events_scanned >= 15 ? g : null;
  }, 'the backfill to get going');
  assert.equal(d.status, 'backfilling', 'the backfill ended before the restart');
  return { s, users };
}

describe('restart in the middle of a backfill', () => {
  it('kill -9 mid-way: after a restart the backfill resumes and every value is exact', async () => {
    const p = P[2];
    const { s, users } = await midBackfill(p);
    try {
      await s.kill9();
      await s.restart();
      // The definitions survived; none is served before it is whole. (Read first: one still
      // backfilling after the read was backfilling during it.)
      const mid = await s.userData({ user_id: users[9] }, { secret: p.secret_key });
      const statuses = {};
      for (const id of Object.keys(DEFS)) {
        const g = await getDefinition(s, p.id, 'computations', id);
        assert.equal(g.name, DEFS[id].name);
        statuses[id] = g.status;
        if (g.status === 'backfilling') assert.equal(mid.computed_properties[id], undefined, `computation ${id} is served while it backfills`);
        else assert.equal(mid.computed_properties[id], expected(9)[id]);
      }
      const b = await getDefinition(s, p.id, 'cohorts', 'buyers');
      assert.equal(b.status, 'backfilling', `the cohort's backfill was mid-way at the kill: ${JSON.stringify(statuses)}`);
      assert.deepEqual(mid.cohort_ids, []);
      await waitAllReady(s, p);
      await checkValues(s, p, users);
      // A second restart changes nothing.
      await s.kill9();
      await s.restart();
      await checkValues(s, p, users);
    } finally {
      await s.dispose();
    }
  });

  it('SIGTERM mid-way: the server stops cleanly and the backfill finishes after the restart', async () => {
    const p = P[3];
    const { s, users } = await midBackfill(p);
    try {
      const exit = await s.stop();
      assert.deepEqual(exit, { code: 0, signal: null });
      await s.restart();
      // Ingestion goes on while the backfill resumes.
      const c2 = await sdkClient(s, p.api_key);
      await sdkTrack(c2, [['Purchase', { price: 1000 }, { user_id: users[1], time: daysAgo(0) }]]);
      await waitAllReady(s, p);
      await checkValues(s, p, users, { 1: { 1: 3, 2: 1003, 3: 3 } });
    } finally {
      await s.dispose();
    }
  });

  it('definitions put before a restart are served after it without a new backfill', async () => {
    const p = P[4];
    const s = await startServer({ projects: [p], testing: LESS_SLOW });
    try {
      const c = await sdkClient(s, p.api_key);
      const users = Array.from({ length: 3 }, (_, i) => uid(`keep-u${i}`));
      await sdkTrack(c, history(users));
      await putAll(s, p);
      await waitAllReady(s, p);
      await checkValues(s, p, users);
      await s.stop();
      await s.restart();
      for (const id of Object.keys(DEFS)) assert.equal((await getDefinition(s, p.id, 'computations', id)).status, 'ready');
      assert.equal((await getDefinition(s, p.id, 'cohorts', 'buyers')).status, 'ready');
      await checkValues(s, p, users);
    } finally {
      await s.dispose();
    }
  });
});
