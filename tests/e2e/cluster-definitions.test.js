// Definitions (computations, cohorts) shared by two profiled nodes on one Redis Cluster
// (docs/SCALING.md, src/ingest/definitions.h): a change on one node bumps the project's version
// in Redis, every node polls it every 500 ms, a new aggregate spec goes live 2 s after its
// creation (what was ingested before is backfilled, what comes later is applied live by every
// node) and its backfill stays 5 s behind the clock. Here: a computation defined on A while
// both nodes ingest counts every event exactly once on both nodes; a cohort defined on B is
// served on A and its deletion on A reaches B; a change is visible on the other node within
// 1.5 s; a cohort defined on A downloads its members, and reports its size, through B (a scan
// of the project's users over every partition); a recommendation is trained by one node (the
// holder of the project's trainer lease) and served by both. Each test owns a project.
import assert from 'node:assert/strict';
import { after, before, describe, it, sleep, startNodePair, uid } from './harness.js';
import { cohort, cohortApiOk, csvMembers, daysAgo, downloadMembers, eventCond, makeProjects, until, waitReady } from './compute-helpers.js';

const PROJECTS = makeProjects('cdef', 5, 'seed');

describe('definitions shared by two nodes on one Redis Cluster', () => {
  let nodes = null;
  let a = null; // node A
  let b = null; // node B

  before(async () => {
    nodes = await startNodePair({ projects: PROJECTS });
    ({ a, b } = nodes);
  });

  after(async () => {
    await nodes?.dispose();
  });

  const nodeName = (server) => (server === a ? 'A' : 'B');

  // Sends one batch, which must be answered 200. Nothing here injects a fault, but a 503 (a
  // group that took too long on a loaded machine) is retry-safe by insert_id, as the SDKs
  // retry it: the batch is sent again, up to 5 times; each 503 is logged.
  async function sendOk(server, project, events) {
    for (let attempt = 1; ; attempt++) {
      const res = await server.track(events, { apiKey: project.api_key });
      if (res.status === 503 && attempt < 5) {
        console.log(`503 from ${nodeName(server)}, sent again: ${res.text}`);
        await sleep(100);
        continue;
      }
      assert.equal(res.status, 200, `ingest through ${nodeName(server)}: ${res.status} ${res.text}`);
      assert.equal(res.json?.code, 200, `ingest through ${nodeName(server)}: ${res.text}`);
      return;
    }
  }

  async function readData(server, project, params) {
    return server.userData(params, { secret: project.secret_key });
  }

  const pct = (xs, q) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

  const defPath = (project, kind, id) => `/projects/${project.id}/${kind}/${id}`;

  it('a count computation defined on A while both nodes ingest counts every event once, on both nodes', async () => {
    const p = PROJECTS[0];
    const COMP = { id: 1, name: 'purchases', type: 'count', event_type: 'Purchase' };
    // 4 clients, each owning 2 users and sending in turn through A and B: a client knows, after
    // every acknowledgement, exactly how many purchases its users have.
    const clients = Array.from({ length: 4 }, (_, c) => ({
      users: [uid(`cd-c${c}-u0`), uid(`cd-c${c}-u1`)],
    }));
    const acked = new Map(); // user -> purchases acknowledged
    const phaseCounts = { before: 0, window: 0, after: 0 };
    for (const c of clients) for (const u of c.users) acked.set(u, 0);

    let phase = 'before';
    let stop = false;
    const served = { A: null, B: null }; // ms after the PUT of the first read that reported the value
    let putAt = 0;
    const probeErrors = [];
    let seq = 0;
    const latencies = [];
    const slow = [];
    const seen = new Set(); // users with an acknowledged event (a read of another is a 404)

    const run = async (c, ci) => {
      let turn = ci; // alternates the node per batch; clients start on different nodes
      while (!stop) {
        const server = turn++ % 2 === 0 ? a : b;
        // A batch of 1-4 events over the client's users: purchases (some dated in the past, all
        // time counts) and page views (another type, never counted).
        const events = [];
        const delta = new Map();
        const n = 1 + Math.floor(Math.random() * 4);
        for (let i = 0; i < n; i++) {
          const user = c.users[Math.floor(Math.random() * c.users.length)];
          const purchase = Math.random() < 0.7;
          events.push({
            user_id: user,
            event_type: purchase ? 'Purchase' : 'Page View',
            insert_id: `cd-${process.pid}-${seq++}`,
            ...(Math.random() < 0.2 ? { time: daysAgo(3) } : {}),
          });
          if (purchase) delta.set(user, (delta.get(user) ?? 0) + 1);
        }
        const sentIn = phase;
        const t0 = Date.now();
        await sendOk(server, p, events);
        latencies.push(Date.now() - t0);
        if (Date.now() - t0 > 1000) slow.push(`${nodeName(server)} ${Date.now() - t0} ms, sent ${putAt ? t0 - putAt : 'before'} ms after the PUT`);
        for (const e of events) seen.add(e.user_id);
        for (const [user, d] of delta) {
          acked.set(user, acked.get(user) + d);
          phaseCounts[sentIn] += d;
        }
        // Read one of the client's users through the other node: once the computation is
        // reported there, it is exact (nothing in flight for this user: the client is sequential).
        const other = server === a ? b : a;
        const user = c.users[turn % c.users.length];
        if (!seen.has(user)) continue;
        const data = await readData(other, p, { user_id: user });
        if ('1' in data.computed_properties) {
          const name = nodeName(other);
          if (served[name] === null) served[name] = Date.now() - putAt;
          if (data.computed_properties['1'] !== acked.get(user)) {
            probeErrors.push(`${name} read ${data.computed_properties['1']} for ${user}, ${acked.get(user)} acknowledged (${phase}, ${Date.now() - putAt} ms after the PUT)`);
          }
        } else {
          assert.deepEqual(data.computed_properties, {}, `${nodeName(other)}: ${JSON.stringify(data)}`);
        }
        await sleep(5);
      }
    };

    const workerErrors = [];
    const running = clients.map((c, ci) =>
      run(c, ci).catch((e) => {
        workerErrors.push(e);
        stop = true;
      }),
    );
    try {
      await sleep(1000);
      phase = 'window';
      putAt = Date.now();
      const put = await a.adminOk('PUT', defPath(p, 'computations', 1), COMP);
      assert.equal(put.status, 'backfilling', JSON.stringify(put));
      const putMs = Date.now() - putAt;
      await sleep(Math.max(0, 3000 - (Date.now() - putAt)));
      phase = 'after';
      // Until B says ready, then one more second of live events.
      const ready = await waitReady(b, p.id, 'computations', 1, { timeoutMs: 30000 });
      const readyMs = Date.now() - putAt;
      assert.deepEqual({ ...ready, created_at: 0, updated_at: 0 }, { ...COMP, status: 'ready', created_at: 0, updated_at: 0 });
      await sleep(1000);
      stop = true;
      await Promise.all(running);
      if (workerErrors.length > 0) throw workerErrors[0];
      console.log(`computation: PUT answered in ${putMs} ms, ready on B ${readyMs} ms after it; first exact read on A at ${served.A} ms, on B at ${served.B} ms; purchases acknowledged before/window/after: ${JSON.stringify(phaseCounts)}; ${latencies.length} requests, ingest ms p50 ${pct(latencies, 0.5)} p99 ${pct(latencies, 0.99)} max ${pct(latencies, 1)}; over 1 s: ${slow.length ? slow.join(', ') : 'none'}`);
    } finally {
      stop = true;
      await Promise.all(running);
    }
    if (workerErrors.length > 0) throw workerErrors[0];
    assert.deepEqual(probeErrors, []);
    for (const k of ['before', 'window', 'after']) assert.ok(phaseCounts[k] > 0, `no purchase acknowledged in phase ${k}`);
    // Every user, read through both nodes: exactly the purchases acknowledged.
    for (const [user, n] of acked) {
      assert.ok(n > 0, user);
      for (const server of [a, b]) {
        const data = await readData(server, p, { user_id: user });
        assert.deepEqual(data.computed_properties, { 1: n }, `${user} read through ${nodeName(server)}`);
      }
    }
    // A's GET agrees with B's.
    assert.equal((await a.adminOk('GET', defPath(p, 'computations', 1))).status, 'ready');
  });

  it('a cohort defined on B is served on A once ready; its deletion on A leaves the reads of B within 2 s', async () => {
    const p = PROJECTS[1];
    const purchase = (user, extra = {}) => ({ user_id: user, event_type: 'Purchase', insert_id: uid('ins'), ...extra });
    const view = (user) => ({ user_id: user, event_type: 'Page View', insert_id: uid('ins') });
    const none = uid('co-none'); // nothing relevant
    const buyer = uid('co-buyer'); // 3 purchases: in `buyers`
    const almost = uid('co-almost'); // 2 purchases: not yet
    const viewer = uid('co-viewer'); // 2 page views: in `viewers`

    await sendOk(a, p, [purchase(buyer), purchase(almost), view(viewer), { user_id: none, event_type: 'Signed Up', insert_id: uid('ins') }]);
    await sendOk(b, p, [purchase(buyer), purchase(almost, { time: daysAgo(2) }), view(viewer)]);
    await sendOk(a, p, [purchase(buyer, { time: daysAgo(5) })]);

    // The computation on A; at once two cohorts on B: one on the computation (B checks the
    // reference against what A just stored), one on an event condition (a spec of its own).
    await a.adminOk('PUT', defPath(p, 'computations', 1), { name: 'purchases', type: 'count', event_type: 'Purchase' });
    const buyers = cohort('buyers', { type: 'computed_property', prop: 1, op: 'greater_or_equal', values: [3] });
    const viewers = cohort('viewers', eventCond('Page View', '>=', 2, { days: 30 }));
    await b.adminOk('PUT', defPath(p, 'cohorts', 'buyers'), buyers);
    await b.adminOk('PUT', defPath(p, 'cohorts', 'viewers'), viewers);
    await waitReady(b, p.id, 'computations', 1);
    await waitReady(b, p.id, 'cohorts', 'buyers');
    await waitReady(b, p.id, 'cohorts', 'viewers');

    const expected = { [none]: [], [buyer]: ['buyers'], [almost]: [], [viewer]: ['viewers'] };
    const cohortsOf = async (server, user) => [...(await readData(server, p, { user_id: user })).cohort_ids].sort();
    // Served on A (its poll may run up to 500 ms behind B).
    const t0 = Date.now();
    await until(async () => (await cohortsOf(a, viewer)).length > 0, 'A to serve the cohorts', { timeoutMs: 3000 });
    console.log(`cohorts: served on A ${Date.now() - t0} ms after B said ready`);
    for (const server of [a, b]) {
      for (const [user, ids] of Object.entries(expected)) {
        assert.deepEqual(await cohortsOf(server, user), ids, `${user} through ${nodeName(server)}`);
        assert.deepEqual((await readData(server, p, { user_id: user })).computed_properties, { 1: { [buyer]: 3, [almost]: 2 }[user] ?? 0 });
      }
    }

    // Live: the third purchase through B puts `almost` in on A's very next read.
    await sendOk(b, p, [purchase(almost)]);
    assert.deepEqual(await cohortsOf(a, almost), ['buyers']);

    // A knows B's cohort references the computation: deleting the computation on A is refused.
    const refused = await a.admin('DELETE', defPath(p, 'computations', 1));
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.json?.error ?? '', /buyers/, refused.text);

    // Deleting the cohort on A: gone from B's reads within 2 s (and from B's GET).
    const del = await a.adminOk('DELETE', defPath(p, 'cohorts', 'buyers'));
    assert.deepEqual(del, { deleted: true });
    const d0 = Date.now();
    await until(async () => !(await cohortsOf(b, buyer)).includes('buyers'), 'B to stop serving the deleted cohort', { timeoutMs: 2000 });
    const goneMs = Date.now() - d0;
    await until(async () => (await b.admin('GET', defPath(p, 'cohorts', 'buyers'))).status === 404, 'B GET 404', { timeoutMs: 2000 });
    console.log(`cohorts: a deletion on A left B's reads after ${goneMs} ms`);
    for (const server of [a, b]) {
      assert.deepEqual(await cohortsOf(server, buyer), [], nodeName(server));
      assert.deepEqual(await cohortsOf(server, almost), [], nodeName(server));
      assert.deepEqual(await cohortsOf(server, viewer), ['viewers'], nodeName(server));
    }
    // The computation is no longer referenced: B may delete it, and A stops reporting it.
    assert.deepEqual(await b.adminOk('DELETE', defPath(p, 'computations', 1)), { deleted: true });
    await until(async () => !('1' in (await readData(a, p, { user_id: buyer })).computed_properties), 'A to stop reporting the computation', { timeoutMs: 2000 });
  });

  it('a definition PUT, changed or deleted on one node shows on the other within 1.5 s', async () => {
    const p = PROJECTS[2];
    // Polls GET on `server` until `ok(res)`; returns the ms it took.
    const visible = async (server, path, ok, what) => {
      const t0 = Date.now();
      let last;
      await until(async () => ok((last = await server.admin('GET', path))), `${what} (last: ${last?.status} ${last?.text})`, { timeoutMs: 1500, everyMs: 10 });
      return Date.now() - t0;
    };
    const times = {};
    const backfillingOrReady = (res) => res.status === 200 && ['backfilling', 'ready'].includes(res.json.status);

    const comp = { name: 'views', type: 'count', event_type: 'Page View', window_days: 7 };
    await a.adminOk('PUT', defPath(p, 'computations', 5), comp);
    times['computation PUT on A, GET on B'] = await visible(b, defPath(p, 'computations', 5), backfillingOrReady, 'B sees computation 5');
    const onB = await b.adminOk('GET', defPath(p, 'computations', 5));
    assert.equal(onB.id, 5);
    assert.equal(onB.name, 'views');
    assert.equal(onB.window_days, 7);

    const c1 = cohort('many views', eventCond('Page View', '>=', 3, { days: 7 }));
    await b.adminOk('PUT', defPath(p, 'cohorts', 'many'), c1);
    times['cohort PUT on B, GET on A'] = await visible(a, defPath(p, 'cohorts', 'many'), backfillingOrReady, 'A sees cohort many');
    assert.equal((await a.adminOk('GET', defPath(p, 'cohorts', 'many'))).name, 'many views');

    // A change on A (new threshold, new name) reaches B.
    const c2 = cohort('more views', eventCond('Page View', '>=', 5, { days: 7 }));
    await a.adminOk('PUT', defPath(p, 'cohorts', 'many'), c2);
    times['cohort change on A, GET on B'] = await visible(b, defPath(p, 'cohorts', 'many'), (r) => r.status === 200 && r.json.name === 'more views', 'B sees the change');
    assert.equal((await b.adminOk('GET', defPath(p, 'cohorts', 'many'))).definition.andClauses[0].orClauses[0].operator_value, 5);

    // Lists agree.
    const listA = await a.adminOk('GET', `/projects/${p.id}/cohorts`);
    const listB = await b.adminOk('GET', `/projects/${p.id}/cohorts`);
    assert.deepEqual(listA.cohorts.map((c) => c.id), ['many']);
    assert.deepEqual(listB.cohorts.map((c) => c.id), ['many']);

    // A deletion on B reaches A.
    assert.deepEqual(await b.adminOk('DELETE', defPath(p, 'cohorts', 'many')), { deleted: true });
    times['cohort DELETE on B, GET on A'] = await visible(a, defPath(p, 'cohorts', 'many'), (r) => r.status === 404, 'A sees the deletion');
    assert.deepEqual(await a.adminOk('DELETE', defPath(p, 'computations', 5)), { deleted: true });
    times['computation DELETE on A, GET on B'] = await visible(b, defPath(p, 'computations', 5), (r) => r.status === 404, 'B sees the deletion');
    console.log(`visibility on the other node (ms): ${JSON.stringify(times)}`);
  });

  it('a cohort defined on A downloads exactly its members through B, users ingested through both nodes', async () => {
    const p = PROJECTS[4];
    // 60 users: user i buys i % 3 times, its purchases alternating between the nodes; 2 or
    // more purchases put it in the cohort (20 users, of whom 10 bought through both nodes).
    const user = (i) => `dl-${i}-${uid('u')}`;
    const users = Array.from({ length: 60 }, (_, i) => user(i));
    const buy = (u) => ({ user_id: u, event_type: 'Purchase', insert_id: uid('ins') });
    const viaA = [];
    const viaB = [];
    users.forEach((u, i) => {
      for (let k = 0; k < i % 3; k++) ((i + k) % 2 === 0 ? viaA : viaB).push(buy(u));
      if (i % 3 === 0) viaA.push({ user_id: u, event_type: 'Signed Up', insert_id: uid('ins') });
    });
    await sendOk(a, p, viaA);
    await sendOk(b, p, viaB);
    await a.adminOk('PUT', defPath(p, 'cohorts', 'repeat'), cohort('repeat buyers', eventCond('Purchase', '>=', 2, { days: 30 })));
    await waitReady(a, p.id, 'cohorts', 'repeat');
    await waitReady(b, p.id, 'cohorts', 'repeat');
    const inCohort = users.filter((_, i) => i % 3 === 2);

    const membersThroughB = async () => {
      const t0 = Date.now();
      const { file } = await downloadMembers(b, p, 'repeat');
      const ms = Date.now() - t0;
      const rows = csvMembers(file.text).map((line) => line.split(','));
      for (const [id] of rows) assert.match(id, /^[0-9]+$/, file.text);
      assert.equal(new Set(rows.map(([id]) => id)).size, rows.length, `an amplitude_id twice: ${file.text}`);
      return { ms, users: rows.map(([, u]) => u).sort() };
    };
    const first = await membersThroughB();
    assert.deepEqual(first.users, [...inCohort].sort());
    console.log(`member download through B: ${first.users.length} of ${users.length} users in ${first.ms} ms (request to file)`);
    const sizeOnB = async () => (await cohortApiOk(b, 'GET', '/api/3/cohorts', undefined, p)).cohorts.find((c) => c.id === 'repeat').size;
    assert.equal(await sizeOnB(), inCohort.length);

    // A user's second purchase, through A: in B's next download.
    const joiner = users[1]; // one purchase so far
    await sendOk(a, p, [buy(joiner)]);
    assert.deepEqual((await membersThroughB()).users, [...inCohort, joiner].sort());
    assert.equal(await sizeOnB(), inCohort.length + 1);
  });

  it('a recommendation defined on A is trained by one node, served by both, retrained on a POST to either, and taken over when its trainer dies', async () => {
    const p = PROJECTS[3];
    // Planted structure (as in recs-serving.test.js): each training user views 4 of the 6
    // items of one cluster, so a history in cluster c is recommended the rest of c.
    const sku = (c, i) => `sku-${c}-${i}`;
    const clusterOf = (s) => Number(s.split('-')[1]);
    const events = [];
    for (let c = 0; c < 4; c++) {
      for (let u = 0; u < 8; u++) {
        for (let k = 0; k < 4; k++) {
          events.push({ user_id: `rc-${c}-${u}`, event_type: 'Product Viewed', time: daysAgo(1) + k, insert_id: uid('rc'), event_properties: { product_id: sku(c, (u + k) % 6) } });
        }
      }
    }
    await sendOk(a, p, events.slice(0, events.length / 2));
    await sendOk(b, p, events.slice(events.length / 2));
    const rec = { title: 'For you', model: 'ease', params: { lambda: 10 }, item_event: 'Product Viewed', item_property: 'product_id', history_window_days: 30, max_items: 4 };
    assert.equal((await a.admin('PUT', defPath(p, 'recommendations', 'r1'), rec)).status, 200);
    for (const server of [a, b]) await waitReady(server, p.id, 'recommendations', 'r1', { timeoutMs: 60000 });

    const training = (server) => server.adminOk('GET', defPath(p, 'recommendations', 'r1')).then((d) => d.training);
    const trainedOn = async (server, min) => until(async () => {
      const t = await training(server);
      return t.status === 'ready' && t.trainings >= min ? t : null;
    }, `${nodeName(server)} to report training ${min}`, { timeoutMs: 60000 });
    const [ta, tb] = [await trainedOn(a, 1), await trainedOn(b, 1)];
    assert.equal(ta.items, 24, JSON.stringify(ta));
    assert.equal(ta.users, 32);
    assert.equal(ta.model, 'ease');
    // Both nodes report the one model in the store.
    assert.equal(tb.last_trained_at, ta.last_trained_at);
    assert.equal(tb.items, ta.items);
    const trainedLines = (server) => (server.logs.match(/: trained r1 \(/g) ?? []).length;
    // The log line comes a moment after the status.
    await until(() => trainedLines(a) + trainedLines(b) >= ta.trainings, 'the training log line');
    const trainer = trainedLines(a) > 0 ? a : b;
    const other = trainer === a ? b : a;
    assert.equal(trainedLines(other), 0, 'only the lease holder trains');
    assert.equal(trainedLines(trainer), ta.trainings);

    // A history sent through one node is served from the shared model through the other.
    const user = uid('rc-reader');
    await sendOk(other, p, [0, 1, 2].map((k) => ({ user_id: user, event_type: 'Product Viewed', insert_id: uid('rc'), event_properties: { product_id: sku(2, k) } })));
    for (const server of [a, b]) {
      const data = await readData(server, p, { user_id: user, get_recs: 'true', rec_id: 'r1' });
      assert.equal(data.recommendations?.length, 1, `${nodeName(server)}: ${JSON.stringify(data)}`);
      const items = data.recommendations[0].child_ids;
      // Cluster 2 holds 6 items, 3 of them seen: the other 3 come first.
      assert.deepEqual(items.slice(0, 3).map(clusterOf), [2, 2, 2], `${nodeName(server)}: ${items}`);
      for (const s of [sku(2, 0), sku(2, 1), sku(2, 2)]) assert.ok(!items.includes(s), `${nodeName(server)}: seen ${s} served`);
    }

    // A training asked of the other node is done by the trainer; both report it.
    const post = await other.admin('POST', `${defPath(p, 'recommendations', 'r1')}/train`);
    assert.equal(post.status, 202, post.text);
    for (const server of [a, b]) await trainedOn(server, ta.trainings + 1);
    assert.equal(trainedLines(other), 0, 'only the lease holder trains');

    // The trainer dies: once its lease (10 s) has run out, the other node trains.
    await trainer.kill9();
    const asked = await other.admin('POST', `${defPath(p, 'recommendations', 'r1')}/train`);
    assert.equal(asked.status, 202, asked.text);
    const t = await trainedOn(other, ta.trainings + 2);
    await until(() => trainedLines(other) >= 1, 'the training log line');
    assert.equal(trainedLines(other), 1, other.logs.slice(-3000));
    assert.equal(t.items, 24);
    const data = await readData(other, p, { user_id: user, get_recs: 'true', rec_id: 'r1' });
    assert.equal(data.recommendations?.length, 1, JSON.stringify(data));
    await trainer.restart();
  });
});
