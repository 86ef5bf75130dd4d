// Two profiled nodes on one Redis Cluster (storage.backend = "redis-cluster", README "Storage
// on Redis Cluster"): any node ingests, any node reads, and what one node acknowledged is what
// the other reads next. Also: no lost update under concurrent writes through both nodes,
// identity merges and insert_id de-duplication across nodes, and what a client sees while the
// cluster is down (503s, nothing applied) and after it is back.
// Definitions and recommendation models shared by the nodes, and a cohort's member download
// through the node that did not define it: cluster-definitions.test.js; faults (a primary or a
// profiled node killed, a slot migration): cluster-faults.test.js.
import assert from 'node:assert/strict';
import amplitude from '@amplitude/analytics-node';
import {
  after,
  AMP,
  before,
  checkSeedResponse,
  dayMs,
  describe,
  formBody,
  it,
  SEED,
  sleep,
  startNodePair,
  uid,
} from './harness.js';

const { createInstance, Identify } = amplitude;

describe('two nodes on one Redis Cluster', () => {
  let nodes = null;
  let cluster = null;
  let a = null; // node A
  let b = null; // node B

  before(async () => {
    nodes = await startNodePair({ projects: [SEED, AMP] });
    ({ cluster, a, b } = nodes);
  });

  after(async () => {
    await nodes?.dispose();
  });

  const ev = (fields) => ({ event_type: 'Page Viewed', ...fields });
  const identifyEv = (fields) => ({ event_type: '$identify', ...fields });

  // The seed-dialect body of a profile with only user properties.
  const seedBody = (user, amplitudeId, userProperties) => ({
    userData: {
      ...(user === undefined ? {} : { user_id: user }),
      amplitude_id: amplitudeId,
      user_properties: userProperties,
      computed_properties: {},
      cohort_ids: [],
    },
  });

  // GET /v1/userprofile that must answer 200 with a seed body (validated against the seed
  // schema by the harness on every read, and here explicitly); returns the response.
  async function seedRead(server, params) {
    const res = await server.profile(params);
    assert.equal(res.status, 200, `${server.base} ${JSON.stringify(params)}: ${res.status} ${res.text}`);
    checkSeedResponse(JSON.stringify(params), res);
    return res;
  }

  // The official Node SDK pointed at one node.
  async function sdkClient(server, apiKey = SEED.api_key) {
    const c = createInstance();
    await c.init(apiKey, { serverUrl: `${server.base}/2/httpapi`, flushIntervalMillis: 50, logLevel: 0 }).promise;
    return c;
  }

  async function sdkSendOk(c, promises) {
    await c.flush().promise;
    for (const r of await Promise.all(promises)) assert.equal(r.code, 200, `${r.event.event_type}: ${r.code} ${r.message}`);
  }

  // Sends `count` requests through `server`, `inFlight` at a time; returns every response.
  async function sendMany(server, count, inFlight, makeEvents) {
    const responses = [];
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        responses[i] = await server.track(makeEvents(i));
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return responses;
  }

  // Polls `fn` every 50 ms until it is true or `ms` have passed; returns the last result.
  async function until(fn, ms) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v || Date.now() > deadline) return v;
      await sleep(50);
    }
  }

  function assertAll200(responses, what) {
    const bad = responses.map((r, i) => ({ i, r })).filter(({ r }) => r.status !== 200 || r.json?.code !== 200);
    assert.equal(bad.length, 0, `${what}: ${bad.length} of ${responses.length} not 200, e.g. #${bad[0]?.i}: ${bad[0]?.r.status} ${bad[0]?.r.text}`);
  }

  it('what the SDK sent through one node is in the very next read from the other (both directions)', async () => {
    const user = uid('rw-user');
    const device = uid('rw-device');
    const opts = { user_id: user, device_id: device };
    const clients = { A: await sdkClient(a), B: await sdkClient(b) };
    const nodes = { A: a, B: b };
    const readsBefore = await Promise.all([a.metrics(), b.metrics()]);
    const readsOf = (m, path) => m.get(`profiled_profile_store_reads_total{path="${path}"}`) ?? 0;

    // First write: an event with plain user_properties through A, read from B.
    await sdkSendOk(clients.A, [
      clients.A.track({ event_type: 'Signed Up', user_properties: { plan: 'free' } }, undefined, opts).promise,
    ]);
    const first = await seedRead(b, { user_id: user });
    const id = first.json.userData.amplitude_id;
    assert.ok(Number.isInteger(id) && id > 0, `amplitude_id ${id}`);
    assert.deepEqual(first.json, seedBody(user, id, { plan: 'free' }));

    // Then alternate: each write through one node is in the next read from the other.
    let expected = { plan: 'free' };
    for (let round = 1; round <= 6; round++) {
      const [via, readFrom] = round % 2 === 1 ? ['A', 'B'] : ['B', 'A'];
      const c = clients[via];
      await sdkSendOk(c, [
        c.identify(new Identify().set('round', round).set('last_via', via).add('writes', 1), opts).promise,
      ]);
      expected = { ...expected, round, last_via: via, writes: round };
      const res = await seedRead(nodes[readFrom], { user_id: user });
      assert.deepEqual(res.json, seedBody(user, id, expected), `round ${round}: written through ${via}, read from ${readFrom}`);
    }
    // Both nodes, both lookups: the same body.
    for (const server of [a, b]) {
      assert.deepEqual((await seedRead(server, { user_id: user })).json, seedBody(user, id, expected));
      assert.deepEqual((await seedRead(server, { device_id: device })).json, seedBody(user, id, expected));
    }
    // Every read above was made on the I/O thread's own event loop (the identity GET, then the
    // user's HMGET), none on a read thread: read-your-writes held on that path.
    for (const [i, server] of [a, b].entries()) {
      const m = await server.metrics();
      const loop = readsOf(m, 'loop') - readsOf(readsBefore[i], 'loop');
      const thread = readsOf(m, 'thread') - readsOf(readsBefore[i], 'thread');
      assert.ok(loop >= 5, `${server.base}: ${loop} reads on the loop`);
      assert.equal(thread, 0, `${server.base}: reads on a read thread`);
    }
  });

  it('no lost update: $add 1 sent 200 times through each node concurrently counts 400 on both', async () => {
    const user = uid('counter');
    // The user exists before the race (the next test races the creation itself).
    await a.trackOk([identifyEv({ user_id: user, user_properties: { $set: { created: true } } })]);
    const perNode = 200;
    const inFlight = 8;
    const [fromA, fromB] = await Promise.all([
      sendMany(a, perNode, inFlight, () => [identifyEv({ user_id: user, user_properties: { $add: { n: 1, via_a: 1 } } })]),
      sendMany(b, perNode, inFlight, () => [identifyEv({ user_id: user, user_properties: { $add: { n: 1, via_b: 1 } } })]),
    ]);
    assertAll200(fromA, 'through A');
    assertAll200(fromB, 'through B');
    for (const server of [a, b]) {
      const d = await server.userData({ user_id: user });
      assert.deepEqual(d.user_properties, { created: true, n: 400, via_a: 200, via_b: 200 }, `read from ${server.base}`);
    }
  });

  it('a user_id first seen through both nodes at once becomes one user', async () => {
    // Each round: a new user's first events arrive through A and B at the same moment.
    for (let round = 0; round < 10; round++) {
      const user = uid('race-user');
      const [ra, rb] = await Promise.all([
        a.track([identifyEv({ user_id: user, user_properties: { $add: { n: 1 }, $set: { a: true } } })]),
        b.track([identifyEv({ user_id: user, user_properties: { $add: { n: 1 }, $set: { b: true } } })]),
      ]);
      assertAll200([ra, rb], `round ${round}`);
      const fromA = await a.userData({ user_id: user });
      const fromB = await b.userData({ user_id: user });
      assert.equal(fromB.amplitude_id, fromA.amplitude_id, `round ${round}`);
      assert.deepEqual(fromA.user_properties, { n: 2, a: true, b: true }, `round ${round}`);
      assert.deepEqual(fromB.user_properties, fromA.user_properties, `round ${round}`);
    }
  });

  it('an anonymous device identified through the other node is merged into the known user; the user\'s values win', async () => {
    const user = uid('merge-user');
    const home = uid('merge-home');
    const other = uid('merge-other');
    await a.trackOk([ev({ user_id: user, device_id: home, user_properties: { plan: 'pro', shared: 'user' } })]);
    await a.trackOk([ev({ device_id: other, user_properties: { anon_only: 7, shared: 'anonymous' } })]);
    const u0 = (await seedRead(b, { user_id: user })).json.userData;
    const anon = (await seedRead(b, { device_id: other })).json.userData;
    assert.notEqual(anon.amplitude_id, u0.amplitude_id);
    assert.deepEqual(anon, seedBody(undefined, anon.amplitude_id, { anon_only: 7, shared: 'anonymous' }).userData);

    // The identify of `other` with the user_id, through B.
    await b.trackOk([identifyEv({ user_id: user, device_id: other, user_properties: { $set: { login_via: 'B' } } })]);
    const merged = { plan: 'pro', shared: 'user', anon_only: 7, login_via: 'B' };
    for (const server of [a, b]) {
      for (const params of [{ user_id: user }, { device_id: other }, { device_id: home }]) {
        const res = await seedRead(server, params);
        assert.deepEqual(res.json, seedBody(user, u0.amplitude_id, merged), `${server === a ? 'A' : 'B'} ${JSON.stringify(params)}`);
      }
    }

    // Later anonymous events on the merged device, through A, update the user; B reads them.
    await a.trackOk([ev({ device_id: other, user_properties: { after_merge: true } })]);
    assert.deepEqual((await seedRead(b, { user_id: user })).json, seedBody(user, u0.amplitude_id, { ...merged, after_merge: true }));
  });

  it('an anonymous device seen through A is adopted by its first user_id sent through B', async () => {
    const user = uid('adopt-user');
    const device = uid('adopt-device');
    await a.trackOk([ev({ device_id: device, user_properties: { anon: true, color: 'red' } })]);
    const anon = (await seedRead(b, { device_id: device })).json.userData;
    assert.ok(!('user_id' in anon), JSON.stringify(anon));
    assert.equal((await b.profile({ user_id: user })).status, 404);

    await b.trackOk([ev({ user_id: user, device_id: device, user_properties: { color: 'blue' } })]);
    for (const server of [a, b]) {
      for (const params of [{ user_id: user }, { device_id: device }]) {
        const res = await seedRead(server, params);
        assert.deepEqual(res.json, seedBody(user, anon.amplitude_id, { anon: true, color: 'blue' }), JSON.stringify(params));
      }
    }
  });

  it('insert_id de-duplication is cluster-wide: the same event through A, then B, applies once', async () => {
    const user = uid('dedup');
    const device = uid('dedup-device');
    const e = (insert_id) => identifyEv({ user_id: user, device_id: device, insert_id, user_properties: { $add: { count: 1 } } });
    await a.trackOk([e('ins-1')]);
    await b.trackOk([e('ins-1')]);
    for (const server of [a, b]) assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 1 });
    // Another insert_id applies; sent again through A it is a duplicate there too.
    await b.trackOk([e('ins-2')]);
    await a.trackOk([e('ins-2')]);
    for (const server of [a, b]) assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 2 });
  });

  it('insert_id de-duplication holds when the same event reaches both nodes at the same moment', async () => {
    for (let round = 0; round < 10; round++) {
      const user = uid('dedup-race');
      const device = uid('dedup-race-device');
      // The user exists first, so the race is on the insert_id alone.
      await a.trackOk([identifyEv({ user_id: user, device_id: device, user_properties: { $set: { round } } })]);
      const e = identifyEv({ user_id: user, device_id: device, insert_id: 'same', user_properties: { $add: { count: 1 } } });
      const [ra, rb] = await Promise.all([a.track([e]), b.track([e])]);
      assertAll200([ra, rb], `round ${round}`);
      for (const server of [a, b]) {
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { round, count: 1 }, `round ${round}`);
      }
    }
  });

  it('the /identify form API through B is read through A', async () => {
    const user = uid('idf');
    const device = uid('idf-device');
    const post = (identification) =>
      b.request('POST', '/identify', {
        body: formBody({ api_key: SEED.api_key, identification: JSON.stringify(identification) }),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
    let res = await post({ user_id: user, device_id: device, user_properties: { plan: 'pro', age: 31 } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
    const first = (await seedRead(a, { user_id: user })).json.userData;
    assert.deepEqual(first, seedBody(user, first.amplitude_id, { plan: 'pro', age: 31 }).userData);

    res = await post([
      { user_id: user, user_properties: { $add: { age: 1 }, $set: { second: true } } },
      { user_id: user, user_properties: { $unset: { plan: '-' } } },
    ]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
    for (const params of [{ user_id: user }, { device_id: device }]) {
      assert.deepEqual((await seedRead(a, params)).json, seedBody(user, first.amplitude_id, { age: 32, second: true }));
    }
  });

  it('both dialects read through B what was sent through A', async () => {
    const JAN15 = dayMs(2024, 1, 15);
    const MAR03 = dayMs(2024, 3, 3);
    const send = async (apiKey) => {
      const user = uid('dialect-user');
      const device = uid('dialect-device');
      await a.trackOk(
        [
          ev({
            user_id: user,
            device_id: device,
            time: JAN15,
            platform: 'iOS',
            os_name: 'ios',
            os_version: '17.2',
            country: 'United States',
            city: 'San Francisco',
            language: 'en-US',
            app_version: '1.0.0',
            library: 'e2e/1.0',
            user_properties: { plan: 'pro', seats: 3, tags: ['a', 'b'] },
          }),
          ev({ user_id: user, device_id: device, time: MAR03, app_version: '2.0.0', user_properties: { seats: 5 } }),
        ],
        { apiKey },
      );
      return { user, device };
    };

    const s = await send(SEED.api_key);
    const seedRes = await seedRead(b, { user_id: s.user });
    assert.deepEqual(seedRes.json, seedBody(s.user, seedRes.json.userData.amplitude_id, { plan: 'pro', seats: 5, tags: ['a', 'b'] }));

    const m = await send(AMP.api_key);
    const ampProps = {
      platform: 'iOS',
      os_name: 'ios',
      os_version: '17.2',
      country: 'United States',
      city: 'San Francisco',
      language: 'English',
      app_version: '2.0.0',
      start_version: '1.0.0',
      library: 'e2e/1.0',
      first_used: '2024-01-15',
      last_used: '2024-03-03',
      plan: 'pro',
      seats: 5,
      tags: ['a', 'b'],
    };
    for (const params of [{ user_id: m.user }, { device_id: m.device }]) {
      const res = await b.profile({ ...params, get_amp_props: 'true' }, { secret: AMP.secret_key });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, {
        userData: { recommendations: null, user_id: m.user, device_id: m.device, amp_props: ampProps, cohort_ids: null },
      });
    }
    // The projects stay apart on the shared store.
    assert.equal((await b.profile({ user_id: m.user })).status, 404);
    assert.equal((await b.profile({ user_id: s.user }, { secret: AMP.secret_key })).status, 404);
  });

  // Last: these stop the cluster, then start the same nodes again. In order.
  describe('while the cluster is down', () => {
    const user = uid('outage');
    const device = uid('outage-device');
    const fresh = uid('outage-new');
    const addOne = () => identifyEv({ user_id: user, device_id: device, user_properties: { $add: { n: 1 } } });
    const nodes = () => [['A', a], ['B', b]];

    before(async () => {
      await a.trackOk([addOne()]);
      for (const [name, server] of nodes()) {
        const health = await server.request('GET', '/healthz');
        assert.equal(health.status, 200, `${name} /healthz before the outage: ${health.text}`);
      }
      await cluster.stop();
    });

    it(
      'right after a failed write, /healthz answers 503',
      async () => {
        for (const [name, server] of nodes()) {
          const res = await server.track([addOne()]);
          assert.equal(res.status, 503, `${name} ingest: ${res.status} ${res.text}`);
          const health = await server.request('GET', '/healthz');
          assert.equal(health.status, 503, `${name} /healthz right after a 503 to a write: ${health.status} ${health.text}`);
        }
      },
    );

    it('ingestion through either node answers 503 with a JSON body, in bounded time', async () => {
      for (const [name, server] of nodes()) {
        const t0 = Date.now();
        const res = await server.track([addOne(), identifyEv({ user_id: fresh, user_properties: { $set: { during_outage: true } } })]);
        const ms = Date.now() - t0;
        assert.equal(res.status, 503, `${name} ingest: ${res.status} ${res.text}`);
        assert.match(res.headers['content-type'] ?? '', /^application\/json/, `${name} ingest content-type`);
        assert.equal(res.json?.code, 503, `${name} ingest body: ${res.text}`);
        assert.equal(typeof res.json?.error, 'string', `${name} ingest body: ${res.text}`);
        assert.ok(ms < 20000, `${name} ingest took ${ms} ms`);

        const form = await server.request('POST', '/identify', {
          body: formBody({ api_key: SEED.api_key, identification: JSON.stringify({ user_id: fresh, user_properties: { form: 1 } }) }),
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(form.status, 503, `${name} /identify: ${form.status} ${form.text}`);
      }
    });

    it('a read through either node answers 503 with a JSON body saying why', async () => {
      for (const [name, server] of nodes()) {
        for (const params of [{ user_id: user }, { device_id: device }]) {
          const t0 = Date.now();
          const read = await server.profile(params);
          const ms = Date.now() - t0;
          assert.equal(read.status, 503, `${name} read ${JSON.stringify(params)}: ${read.status} ${read.text}`);
          assert.match(read.headers['content-type'] ?? '', /^application\/json/, `${name} read content-type`);
          assert.equal(typeof read.json?.error, 'string', `${name} read body: ${read.text}`);
          assert.ok(read.json.error.length > 0, `${name} read body: ${read.text}`);
          assert.ok(ms < 20000, `${name} read took ${ms} ms`);
        }
      }
    });

    it('/healthz answers 503 once the node lease is stale, and the log names the reason', async () => {
      for (const [name, server] of nodes()) {
        // The lease is fresh for lease_ms/2 (5 s) after its last renewal.
        let health;
        const down = await until(async () => (health = await server.request('GET', '/healthz')).status === 503, 10000);
        assert.ok(down, `${name} /healthz is still ${health.status} ${health.text}`);
        assert.equal(health.text, 'unavailable: the store cannot write\n');
        // (stderr is read on its own pipe: the line may come in just after the answer)
        const logged = await until(() => /\/healthz: Unavailable: .*Redis Cluster/.test(server.logs), 5000);
        assert.ok(logged, `${name} logs the reason after "/healthz: "`);
      }
    });

    it('after the same cluster restarts, both nodes serve again and nothing answered 503 was applied', async () => {
      await cluster.restart();
      for (const [name, server] of nodes()) {
        let health;
        const up = await until(async () => (health = await server.request('GET', '/healthz')).status === 200, 30000);
        assert.ok(up, `${name} /healthz after the restart: ${health.status} ${health.text}`);
      }
      for (const server of [a, b]) {
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { n: 1 });
        assert.equal((await server.profile({ user_id: fresh })).status, 404);
      }
      await b.trackOk([addOne()]);
      await a.trackOk([identifyEv({ user_id: fresh, user_properties: { $set: { after_outage: true } } })]);
      for (const server of [a, b]) {
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { n: 2 });
        assert.deepEqual((await server.userData({ user_id: fresh })).user_properties, { after_outage: true });
      }
    });
  });
});
