// Configuration reload on SIGHUP (README.md "Reloading the configuration"; docs/RELIABILITY.md
// "Access"): keys rotate without downtime, projects come and go, limits (a throttle, the
// connection cap) change, and a config that does not load changes nothing; connections stay
// open and no request in flight fails.
import assert from 'node:assert/strict';
import http from 'node:http';
import { configToml, describe, it, sleep, startServer } from './harness.js';
import { until } from './compute-helpers.js';

// One keep-alive connection (an agent with a single socket): every request goes over it while
// the server keeps it open. Each answer says which local port it came through, so a test can
// tell that the connection is the same one.
function keepAliveClient(base) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(base);
  return {
    get(path, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET', headers, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode, text, localPort: res.socket?.localPort ?? req.socket?.localPort }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    },
    close() {
      agent.destroy();
    },
  };
}

const P = { id: 'rp', api_key: 'rp-api-key', secret_key: 'rp-old-secret', profile_dialect: 'seed' };
const Q = { id: 'rq', api_key: 'rq-api-key', secret_key: 'rq-secret', profile_dialect: 'seed' };
const R = { id: 'rr', api_key: 'rr-api-key', secret_keys: ['rr-secret'], profile_dialect: 'amplitude' };
const NEW = 'rp-new-secret';

describe('SIGHUP reloads keys, projects and limits', () => {
  it('a key rotates, a project comes, goes and comes back, a limit changes; a broken config changes nothing; connections and requests in flight are untouched', async () => {
    const config = (projects, more = {}) => configToml({ dataDir: '{{DATA}}', projects, ...more });
    const s = await startServer({ config: config([P, Q]) });
    const conn = keepAliveClient(s.base);
    // Background traffic with keys every config below keeps (Q's), a new user each time (so a
    // throttle of 1 event per second never refuses it): none of it may fail.
    let stop = false;
    const failures = [];
    let sent = 0;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const t = await s.track([{ user_id: `rq-user-${i}`, event_type: 'e', user_properties: { $add: { n: 1 } } }], { apiKey: Q.api_key });
        const r = await s.profile({ user_id: `rq-user-${i}` }, { secret: Q.secret_key });
        sent += 2;
        if (t.status !== 200) failures.push(`track ${t.status} ${t.text}`);
        if (r.status !== 200) failures.push(`profile ${r.status} ${r.text}`);
        await sleep(5); // pacing only, so the traffic does not crowd out the test's requests
      }
    })();
    const reloads = () => s.stderr.split('\n').filter((l) => /config reload(ed| refused)/.test(l)).length;
    const hup = async (text) => {
      const seen = reloads();
      s.rewriteConfig(text);
      s.signal('SIGHUP');
      await until(() => reloads() > seen, 'the reload to be logged');
    };
    try {
      await s.trackOk([{ user_id: 'rp-user', event_type: 'e', user_properties: { plan: 'pro' } }], { apiKey: P.api_key });
      const first = await conn.get('/v1/userprofile?user_id=rp-user', { Authorization: `Api-Key ${P.secret_key}` });
      assert.equal(first.status, 200, first.text);
      const port = first.localPort;

      // 1. The new key added beside the old one, project R added, one setting that needs a
      //    restart changed: both keys work, R ingests and reads.
      s.rewriteConfig(config([{ ...P, secret_keys: [NEW] }, Q, R], { threads: 1 }));
      s.signal('SIGHUP');
      await until(async () => (await s.profile({ user_id: 'rp-user' }, { secret: NEW })).status === 200, 'the new key to work');
      assert.equal((await s.profile({ user_id: 'rp-user' }, { secret: P.secret_key })).status, 200);
      await until(() => reloads() > 0, 'the reload to be logged'); // logged once it has taken effect
      assert.match(s.stderr, /server\.threads changed, which needs a restart/);
      assert.match(s.stderr, /config reloaded .*added: rr; removed: none; keys changed: rp/);
      await s.trackOk([{ user_id: 'rr-user', event_type: 'e', user_properties: { city: 'Oslo' } }], { apiKey: R.api_key });
      const rr = await s.userData({ user_id: 'rr-user', get_amp_props: 'true' }, { secret: R.secret_keys[0] });
      assert.equal(rr.amp_props.city, 'Oslo'); // R's own dialect (amplitude)

      // 2. The old key removed, and a throttle of 1 event per second.
      await hup(config([{ ...P, secret_key: undefined, secret_keys: [NEW] }, Q, R], { throttle: 1, throttleWindow: 1 }));
      const old = await s.profile({ user_id: 'rp-user' }, { secret: P.secret_key });
      assert.equal(old.status, 401);
      assert.equal(old.text, 'Invalid Api-Key');
      assert.equal((await s.profile({ user_id: 'rp-user' }, { secret: NEW })).status, 200);
      const throttled = await s.track([1, 2, 3].map(() => ({ device_id: 'rr-device-x', event_type: 'e' })), { apiKey: R.api_key });
      assert.equal(throttled.status, 429, throttled.text);
      // The keep-alive connection is the same one, and takes the new keys.
      const again = await conn.get('/v1/userprofile?user_id=rp-user', { Authorization: `Api-Key ${NEW}` });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.localPort, port);
      assert.equal((await conn.get('/v1/userprofile?user_id=rp-user', { Authorization: `Api-Key ${P.secret_key}` })).status, 401);

      // 3. R removed: its keys stop working (ingestion, reads, cohort API, admin paths)...
      await hup(config([{ ...P, secret_key: undefined, secret_keys: [NEW] }, Q]));
      assert.equal((await s.profile({ user_id: 'rr-user' }, { secret: R.secret_keys[0] })).status, 401);
      const gone = await s.track([{ user_id: 'rr-user', event_type: 'e' }], { apiKey: R.api_key });
      assert.equal(gone.status, 400);
      assert.equal(gone.json.error, `Invalid API key: ${R.api_key}`);
      const basic = `Basic ${Buffer.from(`${R.api_key}:${R.secret_keys[0]}`).toString('base64')}`;
      assert.equal((await s.request('GET', '/api/3/cohorts', { headers: { Authorization: basic } })).status, 401);
      assert.equal((await s.admin('GET', `/projects/${R.id}/computations`)).status, 404);
      // ... and the throttle is off again.
      await s.trackOk([1, 2, 3].map(() => ({ device_id: 'rq-device-x', event_type: 'e' })), { apiKey: Q.api_key });

      // 4. R back: its data stayed.
      await hup(config([{ ...P, secret_key: undefined, secret_keys: [NEW] }, Q, R]));
      assert.equal((await s.userData({ user_id: 'rr-user', get_amp_props: 'true' }, { secret: R.secret_keys[0] })).amp_props.city, 'Oslo');

      // 5. Configs that do not load change nothing, each with a log line.
      for (const broken of [
        'this is not = = toml',
        config([{ ...P, secret_key: undefined, secret_keys: [NEW] }, { ...Q, secret_key: NEW }]), // a key in two projects
        config([{ ...P, secret_key: undefined, secret_keys: [] }, Q]), // no key left
      ]) {
        await hup(broken);
        assert.match(s.stderr.split('\n').filter((l) => l.includes('config reload')).at(-1), /config reload refused, the running configuration is kept/);
        assert.equal((await s.profile({ user_id: 'rp-user' }, { secret: NEW })).status, 200);
        assert.equal((await s.profile({ user_id: 'rp-user' }, { secret: P.secret_key })).status, 401);
        assert.equal((await s.profile({ user_id: 'rr-user' }, { secret: R.secret_keys[0] })).status, 200);
      }
      const last = await conn.get('/v1/userprofile?user_id=rp-user', { Authorization: `Api-Key ${NEW}` });
      assert.equal(last.status, 200);
      assert.equal(last.localPort, port);

      stop = true;
      await traffic;
      assert.deepEqual(failures, []);
      assert.ok(sent > 0);

      // 6. A connection cap of 1: the open keep-alive connection is served, a new one refused.
      await hup(config([{ ...P, secret_key: undefined, secret_keys: [NEW] }, Q, R]).replace('[server]\n', '[server]\nmax_connections = 1\n'));
      await until(async () => (await s.request('GET', '/healthz').catch(() => ({ status: 0 }))).status === 503, 'a second connection to be refused');
      const kept = await conn.get('/v1/userprofile?user_id=rp-user', { Authorization: `Api-Key ${NEW}` });
      assert.equal(kept.status, 200);
      assert.equal(kept.localPort, port);
      assert.equal((await s.stop()).code, 0);
    } finally {
      stop = true;
      await traffic.catch(() => {});
      conn.close();
      await s.dispose();
    }
  });
});
