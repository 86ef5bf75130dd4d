// The admin API of definitions (CONTRACT §5) and Amplitude's cohort API: every 400, 401,
// 404 and 405, a refused definition changing nothing, and project isolation of every new
// endpoint (admin paths, cohort API, download requests, Profile API reads).
import assert from 'node:assert/strict';
import { describe, it, sharedServer, uid } from './harness.js';
import {
  cohort,
  cohortApi,
  cohortApiOk,
  cohortRef,
  csvMembers,
  daysAgo,
  downloadMembers,
  eventCond,
  makeProjects,
  putAllReady,
  sdkClient,
  sdkTrack,
  until,
  userPropCond,
} from './compute-helpers.js';

const E = makeProjects('err', 3, 'seed');
const [A, B] = makeProjects('iso', 2, 'seed');
const C = makeProjects('isoamp', 1, 'amplitude')[0];

const GOOD_COMPUTATION = { name: 'purchases', type: 'count', event_type: 'Purchase', window_days: 30 };
const GOOD_COHORT = cohort('buyers', eventCond('Purchase', '>=', 1));

describe('admin API errors', () => {
  const h = sharedServer({ projects: E, clockControl: true });
  const p = E[0];

  // Asserts status and a JSON {"error": ...} body; returns the message.
  async function expectError(method, path, body, status, opts) {
    const res = await h.server.admin(method, path, body, opts);
    assert.equal(res.status, status, `${method} ${path}: ${res.status} ${res.text}`);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(typeof res.json?.error, 'string', res.text);
    return res.json.error;
  }

  it('401 without a Bearer token, with a wrong one, or with another scheme', async () => {
    const path = `/projects/${p.id}/computations`;
    assert.match(await expectError('GET', path, undefined, 401, { token: null }), /Bearer/);
    assert.match(await expectError('GET', path, undefined, 401, { token: 'wrong-token' }), /Invalid admin token/);
    assert.match(await expectError('PUT', `${path}/1`, GOOD_COMPUTATION, 401, { token: 'e2e-admin-tokeN' }), /Invalid admin token/);
    for (const header of ['Basic ZTJlLWFkbWluLXRva2Vu', 'e2e-admin-token', 'Bearer', 'Bearer ']) {
      const res = await h.server.request('GET', `/admin/v1${path}`, { headers: { Authorization: header } });
      assert.equal(res.status, 401, header);
    }
    // The scheme is case-insensitive.
    const ok = await h.server.request('GET', `/admin/v1${path}`, { headers: { Authorization: 'bearer e2e-admin-token' } });
    assert.equal(ok.status, 200);
    // 401 comes before anything else, even for unknown projects, and the clock endpoint.
    await expectError('GET', '/projects/nope/computations', undefined, 401, { token: null });
    await expectError('PUT', '/testing/clock', { offset_ms: 5 }, 401, { token: 'x' });
    assert.equal((await h.server.adminOk('GET', '/testing/clock')).offset_ms, 0);
    // Nothing was stored by the refused PUT.
    assert.deepEqual(await h.server.adminOk('GET', path), { computations: [] });
  });

  it('401 on every admin path and method without the token, with a wrong one or in another scheme; nothing changes', async () => {
    const s = h.server;
    const q = E[2]; // its own project: the definitions below would show in the others' lists
    const base = `/projects/${q.id}`;
    const rec = { model: 'popular', item_event: 'View', item_property: 'sku', retrain_every_minutes: 0 };
    await s.trackOk([1, 2, 3].map((i) => ({ user_id: `guard-viewer-${i}`, event_type: 'View', event_properties: { sku: `sku-${i}` } })), { apiKey: q.api_key });
    await putAllReady(s, q.id, [
      ['computations', 3, GOOD_COMPUTATION],
      ['cohorts', 'guarded', GOOD_COHORT],
      ['recommendations', 'guarded-recs', rec],
    ]);
    await until(async () => ['ready', 'failed'].includes((await s.adminOk('GET', `${base}/recommendations/guarded-recs`)).training?.status), 'the first training to end');
    const state = async () => Promise.all([
      ...['computations', 'cohorts', 'recommendations'].map((kind) => s.adminOk('GET', `${base}/${kind}`)),
      s.adminOk('GET', '/testing/clock').then((c) => c.offset_ms),
    ]);
    const before = await state();
    const b64 = (text) => Buffer.from(text).toString('base64');
    const token = 'e2e-admin-token';
    const refused = [
      null,
      'Bearer wrong-token',
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token.toUpperCase()}`,
      'Bearer',
      `Basic ${b64(token)}`,
      `Basic ${b64(`admin:${token}`)}`,
      `Api-Key ${token}`,
      `Token ${token}`,
      token,
      `Bearer ${q.secret_key}`,
      `Bearer ${q.api_key}`,
    ];
    const paths = [
      ['GET', '/testing/clock'],
      ['PUT', '/testing/clock', { offset_ms: 5 }],
      ['GET', '/projects/nope/computations'],
      ['GET', '/projects'],
      ['GET', '/stats'],
      ['GET', `${base}/cohorts/guarded/members`],
      ['GET', `${base}/cohorts/guarded/members?format=jsonl`],
      ['POST', `${base}/recommendations/guarded-recs/train`],
    ];
    for (const [kind, id, body] of [['computations', 3, { ...GOOD_COMPUTATION, name: 'changed' }], ['cohorts', 'guarded', cohort('changed', eventCond('Purchase', '>=', 2))], ['recommendations', 'guarded-recs', { ...rec, model: 'itemknn' }]]) {
      paths.push(['GET', `${base}/${kind}`], ['GET', `${base}/${kind}/${id}`], ['PUT', `${base}/${kind}/${id}`, body], ['DELETE', `${base}/${kind}/${id}`], ['PUT', `${base}/${kind}/${kind === 'computations' ? 4 : 'new-one'}`, body]);
    }
    for (const [method, path, body] of paths) {
      for (const header of refused) {
        const res = await s.request(method, `/admin/v1${path}`, { headers: header === null ? {} : { Authorization: header }, json: body });
        assert.equal(res.status, 401, `${method} ${path} with ${header}: ${res.status} ${res.text}`);
        assert.match(res.json?.error ?? '', header !== null && /^bearer \S/i.test(header) ? /^Invalid admin token$/ : /Bearer/, `${method} ${path} with ${header}`);
      }
    }
    assert.deepEqual(await state(), before);
  });

  it('404 for unknown projects, kinds, paths and definitions; 405 for other methods', async () => {
    assert.match(await expectError('GET', '/projects/nope/computations', undefined, 404), /nope/);
    assert.match(await expectError('PUT', '/projects/nope/computations/1', GOOD_COMPUTATION, 404), /nope/);
    assert.match(await expectError('GET', `/projects/${p.id}/widgets`, undefined, 404), /widgets/);
    await expectError('GET', `/projects/${p.id}/widgets/1`, undefined, 404);
    await expectError('GET', `/projects/${p.id}`, undefined, 404);
    await expectError('GET', '/project', undefined, 404);
    await expectError('GET', '/nothing/here/at/all', undefined, 404);
    await expectError('GET', `/projects/${p.id}/computations/1/extra`, undefined, 404);
    await expectError('GET', `/projects/${p.id}/computations/12345`, undefined, 404);
    await expectError('GET', `/projects/${p.id}/cohorts/nosuch`, undefined, 404);
    await expectError('DELETE', `/projects/${p.id}/computations/12345`, undefined, 404);
    await expectError('DELETE', `/projects/${p.id}/cohorts/nosuch`, undefined, 404);
    await expectError('GET', `/projects/${p.id}/cohorts/nosuch/members`, undefined, 404);

    for (const kind of ['computations', 'cohorts']) {
      for (const method of ['PUT', 'POST', 'DELETE', 'PATCH']) {
        await expectError(method, `/projects/${p.id}/${kind}`, {}, 405);
      }
    }
    await expectError('POST', `/projects/${p.id}/computations/1`, GOOD_COMPUTATION, 405);
    await expectError('PATCH', `/projects/${p.id}/cohorts/x`, GOOD_COHORT, 405);
    await expectError('POST', '/testing/clock', { offset_ms: 1 }, 405);
    // Each 405 names in Allow what its path takes.
    for (const [method, path, allow] of [
      ['PUT', `/projects/${p.id}/computations`, 'GET, OPTIONS'],
      ['POST', `/projects/${p.id}/computations/1`, 'GET, PUT, DELETE, OPTIONS'],
      ['POST', '/testing/clock', 'GET, PUT, OPTIONS'],
    ]) {
      assert.equal((await h.server.admin(method, path, {})).headers.allow, allow, `${method} ${path}`);
    }
    assert.deepEqual(await h.server.adminOk('GET', `/projects/${p.id}/computations`), { computations: [] });
  });

  it('400 for each rule a computation can break, naming the field; nothing is stored', async () => {
    const cases = [
      ['unknown type', 1, { ...GOOD_COMPUTATION, type: 'median' }, /^type: .*median/],
      ['missing property for sum', 1, { name: 'n', type: 'sum', event_type: 'Purchase' }, /^property: required/],
      ['missing property for first', 1, { name: 'n', type: 'first', event_type: 'Purchase', property: null }, /^property: required/],
      ['property on a count', 1, { ...GOOD_COMPUTATION, property: 'price' }, /^property:/],
      ['window_days 0', 1, { ...GOOD_COMPUTATION, window_days: 0 }, /^window_days:/],
      ['window_days 366', 1, { ...GOOD_COMPUTATION, window_days: 366 }, /^window_days:/],
      ['window_days 1.5', 1, { ...GOOD_COMPUTATION, window_days: 1.5 }, /^window_days:/],
      ['window_days as a string', 1, { ...GOOD_COMPUTATION, window_days: '7' }, /^window_days:/],
      ['unknown where op', 1, { ...GOOD_COMPUTATION, where: [{ prop: 'a', op: 'matches', values: ['x'] }] }, /^where\[0\]\.op: .*matches/],
      ['numeric op with a non-number', 1, { ...GOOD_COMPUTATION, where: [{ prop: 'a', op: 'greater', values: ['abc'] }] }, /^where\[0\]\.values:/],
      ['numeric op with two values', 1, { ...GOOD_COMPUTATION, where: [{ prop: 'a', op: 'less', values: [1, 2] }] }, /^where\[0\]\.values:/],
      ['is without values', 1, { ...GOOD_COMPUTATION, where: [{ prop: 'a', op: 'is', values: [] }] }, /^where\[0\]\.values:/],
      ['set with values', 1, { ...GOOD_COMPUTATION, where: [{ prop: 'a', op: 'set', values: ['x'] }] }, /^where\[0\]\.values:/],
      ['filter without prop', 1, { ...GOOD_COMPUTATION, where: [{ op: 'set' }] }, /^where\[0\]\.prop: required/],
      ['where not an array', 1, { ...GOOD_COMPUTATION, where: { prop: 'a' } }, /^where:/],
      ['missing name', 1, { type: 'count', event_type: 'Purchase' }, /^name: required/],
      ['missing event_type', 1, { name: 'n', type: 'count' }, /^event_type: required/],
      ['unknown field', 1, { ...GOOD_COMPUTATION, color: 'red' }, /^color: unsupported field/],
      ['body id mismatch', 1, { ...GOOD_COMPUTATION, id: 2 }, /^id: must equal the id in the path/],
      ['body id as a string mismatch', 1, { ...GOOD_COMPUTATION, id: 'one' }, /^id:/],
      ['bad id in path: letters', 'abc', GOOD_COMPUTATION, /^id: the id in the path/],
      ['bad id in path: zero', '0', GOOD_COMPUTATION, /^id: the id in the path/],
      ['bad id in path: negative', '-1', GOOD_COMPUTATION, /^id: the id in the path/],
      ['bad id in path: leading zero', '007', GOOD_COMPUTATION, /^id: the id in the path/],
      ['bad id in path: too large', '9223372036854775808', GOOD_COMPUTATION, /^id: the id in the path/],
      ['malformed JSON', 1, '{"name": "n", ', /^body: not valid JSON/],
      ['not an object', 1, '[1,2]', /^body: must be a JSON object/],
      ['empty body', 1, '', /^body:/],
    ];
    for (const [what, id, body, message] of cases) {
      const path = `/projects/${p.id}/computations/${id}`;
      const res = typeof body === 'string'
        ? await h.server.request('PUT', `/admin/v1${path}`, { headers: { Authorization: 'Bearer e2e-admin-token', 'Content-Type': 'application/json' }, body })
        : await h.server.admin('PUT', path, body);
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
      assert.match(res.json?.error ?? '', message, what);
    }
    assert.deepEqual(await h.server.adminOk('GET', `/projects/${p.id}/computations`), { computations: [] });
  });

  it('400 for each rule a cohort can break, including references, cycles and deletes of referenced definitions', async () => {
    const s = h.server;
    const q = E[1];
    await putAllReady(s, q.id, [
      ['computations', 1, GOOD_COMPUTATION],
      ['cohorts', 'base', GOOD_COHORT],
      ['cohorts', 'mid', cohort('mid', cohortRef('base'))],
      ['cohorts', 'top', cohort('top', cohortRef('mid'), { type: 'computed_property', prop: 1, op: 'greater', values: [2] })],
    ]);
    const ev = (over) => cohort('x', { ...eventCond('Purchase', '>=', 1), ...over });
    const cases = [
      ['unknown condition type', 'x', cohort('x', { type: 'prediction', type_value: 'p' }), /^definition\.andClauses\[0\]\.orClauses\[0\]\.type: .*prediction/],
      ['unknown event operator', 'x', ev({ operator: '~' }), /orClauses\[0\]\.operator: unknown operator/],
      ['operator_value negative', 'x', ev({ operator_value: -1 }), /operator_value:/],
      ['operator_value a string', 'x', ev({ operator_value: '3' }), /operator_value:/],
      ['unknown time_type', 'x', ev({ time_type: 'relative' }), /time_type: .*relative/],
      ['rolling without time_value', 'x', ev({ time_value: null }), /time_value: required/],
      ['time_value 0', 'x', ev({ time_value: 0 }), /time_value:/],
      ['time_value 366', 'x', ev({ time_value: 366 }), /time_value:/],
      ['time_value 1.5', 'x', ev({ time_value: 1.5 }), /time_value:/],
      ['absolute with end before start', 'x', ev({ time_type: 'absolute', time_value: undefined, start: 2000, end: 1000 }), /end: must be after start/],
      ['absolute without end', 'x', ev({ time_type: 'absolute', time_value: undefined, start: 2000 }), /end: required/],
      ['unknown metric', 'x', ev({ metric: { type: 'median', prop: 'p' } }), /metric\.type: .*median/],
      ['sum metric without prop', 'x', ev({ metric: { type: 'sum' } }), /metric\.prop: required/],
      ['non-empty group_by', 'x', ev({ group_by: ['country'] }), /group_by:/],
      ['offset other than 0', 'x', ev({ offset: 1 }), /offset:/],
      ['unknown filter op', 'x', ev({ filters: [{ prop: 'a', op: 'like', values: ['x'] }] }), /filters\[0\]\.op: unknown operator/],
      ['user property numeric op with a non-number', 'x', cohort('x', userPropCond('age', 'greater', ['old'])), /values:/],
      ['user property unknown op', 'x', cohort('x', userPropCond('age', 'between', [1])), /op: unknown operator/],
      ['computed property not an id', 'x', cohort('x', { type: 'computed_property', prop: 'abc', op: 'set' }), /prop: must be the id of a computation/],
      ['unknown computation reference', 'x', cohort('x', { type: 'computed_property', prop: 99, op: 'set' }), /computation 99/],
      ['unknown cohort reference', 'x', cohort('x', cohortRef('ghost')), /ghost/],
      ['cohort reference not an id', 'x', cohort('x', cohortRef('no spaces')), /type_value: must be the id of a cohort/],
      ['self reference', 'self', cohort('self', cohortRef('self')), /references itself/],
      ['cycle through two cohorts', 'base', cohort('base', cohortRef('top')), /cycle/],
      ['cycle through one cohort', 'base', cohort('base', cohortRef('mid')), /cycle/],
      ['empty andClauses', 'x', { name: 'x', definition: { andClauses: [] } }, /andClauses: must not be empty/],
      ['empty orClauses', 'x', { name: 'x', definition: { andClauses: [{ negated: false, orClauses: [] }] } }, /orClauses: must not be empty/],
      ['negated not a boolean', 'x', { name: 'x', definition: { andClauses: [{ negated: 'yes', orClauses: [GOOD_COHORT.definition.andClauses[0].orClauses[0]] }] } }, /negated:/],
      ['missing definition', 'x', { name: 'x' }, /^definition: required/],
      ['unsupported version', 'x', { name: 'x', definition: { ...GOOD_COHORT.definition, version: 2 } }, /version/],
      ['unsupported count group', 'x', { name: 'x', definition: { ...GOOD_COHORT.definition, countGroup: { name: 'Org' } } }, /countGroup/],
      ['unknown top-level field', 'x', { ...GOOD_COHORT, color: 'red' }, /^color: unsupported field/],
      ['body id mismatch', 'x', { ...GOOD_COHORT, id: 'y' }, /^id: must equal the id in the path/],
      ['bad id in path: space', 'a%20b', GOOD_COHORT, /^id: the id in the path/],
      ['bad id in path: too long', 'x'.repeat(129), GOOD_COHORT, /^id: the id in the path/],
      ['bad id in path: punctuation', 'a!b', GOOD_COHORT, /^id: the id in the path/],
      ['malformed JSON', 'x', '{"definition": ', /^body: not valid JSON/],
    ];
    for (const [what, id, body, message] of cases) {
      const path = `/projects/${q.id}/cohorts/${id}`;
      const res = typeof body === 'string'
        ? await s.request('PUT', `/admin/v1${path}`, { headers: { Authorization: 'Bearer e2e-admin-token' }, body })
        : await s.admin('PUT', path, body);
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
      assert.match(res.json?.error ?? '', message, what);
    }
    // Deleting what another definition references.
    assert.match(await expectError('DELETE', `/projects/${q.id}/cohorts/base`, undefined, 400), /mid/);
    assert.match(await expectError('DELETE', `/projects/${q.id}/cohorts/mid`, undefined, 400), /top/);
    assert.match(await expectError('DELETE', `/projects/${q.id}/computations/1`, undefined, 400), /top/);
    const cohorts = await s.adminOk('GET', `/projects/${q.id}/cohorts`);
    assert.deepEqual(cohorts.cohorts.map((c) => c.id).sort(), ['base', 'mid', 'top']);
    assert.equal((await s.adminOk('GET', `/projects/${q.id}/cohorts/base`)).definition.andClauses[0].orClauses[0].type, 'event');
    // Deleting in dependency order works.
    for (const id of ['top', 'mid', 'base']) assert.deepEqual(await s.adminOk('DELETE', `/projects/${q.id}/cohorts/${id}`), { deleted: true });
    assert.deepEqual(await s.adminOk('DELETE', `/projects/${q.id}/computations/1`), { deleted: true });
  });

  it('a refused change leaves the stored definition and the values served as they were', async () => {
    const s = h.server;
    await putAllReady(s, p.id, [
      ['computations', 5, { name: 'kept', type: 'sum', event_type: 'Purchase', property: 'price' }],
      ['cohorts', 'kept', cohort('kept', eventCond('Purchase', '>=', 2))],
    ]);
    const c = await sdkClient(s, p.api_key);
    const user = uid('refused');
    await sdkTrack(c, [['Purchase', { price: 3 }, { user_id: user, time: daysAgo(1) }], ['Purchase', { price: 4 }, { user_id: user, time: daysAgo(2) }]]);
    const before = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.deepEqual([before.computed_properties, before.cohort_ids], [{ 5: 7 }, ['kept']]);
    const compBefore = await s.adminOk('GET', `/projects/${p.id}/computations/5`);
    const cohortBefore = await s.adminOk('GET', `/projects/${p.id}/cohorts/kept`);

    await expectError('PUT', `/projects/${p.id}/computations/5`, { name: 'kept', type: 'sum', event_type: 'Purchase' }, 400);
    await expectError('PUT', `/projects/${p.id}/computations/5`, { name: 'kept', type: 'count', event_type: 'Purchase', window_days: 0 }, 400);
    await expectError('PUT', `/projects/${p.id}/cohorts/kept`, cohort('kept', cohortRef('nonexistent')), 400);
    await expectError('PUT', `/projects/${p.id}/cohorts/kept`, cohort('kept', cohortRef('kept')), 400);
    assert.deepEqual(await s.adminOk('GET', `/projects/${p.id}/computations/5`), compBefore);
    assert.deepEqual(await s.adminOk('GET', `/projects/${p.id}/cohorts/kept`), cohortBefore);
    const after = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.deepEqual([after.computed_properties, after.cohort_ids], [{ 5: 7 }, ['kept']]);
  });

  it('the clock endpoint refuses bodies that are not {"offset_ms": <integer>}', async () => {
    for (const body of [{}, { offset_ms: '5' }, { offset_ms: 1.5 }, { offset: 5 }, [5]]) {
      assert.match(await expectError('PUT', '/testing/clock', body, 400), /offset_ms/, JSON.stringify(body));
    }
    assert.equal((await h.server.adminOk('GET', '/testing/clock')).offset_ms, 0);
  });
});

describe('cohort API errors', () => {
  const h = sharedServer({ projects: E });
  const p = E[0];

  async function expectCohortError(method, path, body, status, auth) {
    const res = await cohortApi(h.server, method, path, body, p, auth === undefined ? {} : { auth });
    assert.equal(res.status, status, `${method} ${path}: ${res.status} ${res.text}`);
    assert.equal(res.json?.http_code, status, res.text);
    assert.equal(typeof res.json?.message, 'string', res.text);
    assert.equal(typeof res.json?.type, 'string', res.text);
    return res.json.message;
  }

  it('401 for missing, malformed or wrong Basic credentials', async () => {
    const b64 = (s) => Buffer.from(s).toString('base64');
    const bad = [
      null,
      'Bearer e2e-admin-token',
      'Basic',
      'Basic !!!not-base64!!!',
      `Basic ${b64(`${p.api_key}`)}`,
      `Basic ${b64(`${p.api_key}:wrong-secret`)}`,
      `Basic ${b64(`wrong-key:${p.secret_key}`)}`,
      `Basic ${b64(`${p.api_key}:${E[1].secret_key}`)}`, // another project's secret
      `Basic ${b64(`${p.secret_key}:${p.api_key}`)}`,
    ];
    for (const auth of bad) {
      for (const [method, path, body] of [
        ['GET', '/api/3/cohorts'],
        ['POST', '/api/3/cohorts/upload', { name: 'n', id_type: 'BY_USER_ID', ids: [] }],
        ['POST', '/api/3/cohorts/membership', { cohort_id: 'x', memberships: [] }],
        ['GET', '/api/5/cohorts/request/x'],
      ]) {
        await expectCohortError(method, path, body, 401, auth);
      }
    }
    assert.deepEqual((await cohortApiOk(h.server, 'GET', '/api/3/cohorts', undefined, p)).cohorts, []);
  });

  it('400 for bad bodies, id types, operations and too many ids; nothing is created', async () => {
    const c = await sdkClient(h.server, p.api_key);
    const user = uid('cohort-err');
    await sdkTrack(c, [['Opened', {}, { user_id: user, time: daysAgo(1) }]]);
    const upload = (over) => ({ name: 'n', id_type: 'BY_USER_ID', ids: [user], ...over });
    const uploads = [
      [upload({ id_type: 'BY_EMAIL' }), /id_type/],
      [upload({ id_type: undefined }), /id_type/],
      [upload({ id_type: 'BY_ID' }), /id_type/], // membership's name, not upload's
      [upload({ name: '' }), /name/],
      [upload({ name: undefined }), /name/],
      [upload({ ids: 'abc' }), /ids/],
      [upload({ ids: undefined }), /ids/],
      [upload({ ids: [{ id: 1 }] }), /ids/],
      [upload({ ids: new Array(100001).fill(1) }), /100000/],
    ];
    for (const [body, message] of uploads) {
      assert.match(await expectCohortError('POST', '/api/3/cohorts/upload', body, 400), message, JSON.stringify(body).slice(0, 80));
    }
    for (const raw of ['not json', '[1,2]', '']) {
      const res = await h.server.request('POST', '/api/3/cohorts/upload', {
        headers: { Authorization: `Basic ${Buffer.from(`${p.api_key}:${p.secret_key}`).toString('base64')}` },
        body: raw,
      });
      assert.equal(res.status, 400, raw);
    }
    assert.deepEqual((await cohortApiOk(h.server, 'GET', '/api/3/cohorts', undefined, p)).cohorts, []);

    const { cohortId: id } = await cohortApiOk(h.server, 'POST', '/api/3/cohorts/upload', upload({}), p);
    const entry = (over) => ({ ids: [user], id_type: 'BY_NAME', operation: 'REMOVE', ...over });
    const memberships = [
      [{ cohort_id: id, memberships: [entry({ id_type: 'BY_USER_ID' })] }, /memberships\[0\]\.id_type/],
      [{ cohort_id: id, memberships: [entry({}), entry({ operation: 'DELETE' })] }, /memberships\[1\]\.operation/],
      [{ cohort_id: id, memberships: [entry({ operation: undefined })] }, /operation/],
      [{ cohort_id: id, memberships: [] }, /memberships/],
      [{ cohort_id: id }, /memberships/],
      [{ cohort_id: id, memberships: ['x'] }, /memberships\[0\]/],
      [{ memberships: [entry({})] }, /cohort_id/],
      [{ cohort_id: id, memberships: [entry({ ids: new Array(60000).fill(1), id_type: 'BY_ID' }), entry({ ids: new Array(40001).fill(1), id_type: 'BY_ID' })] }, /100000/],
    ];
    for (const [body, message] of memberships) {
      assert.match(await expectCohortError('POST', '/api/3/cohorts/membership', body, 400), message, JSON.stringify(body).slice(0, 80));
    }
    // The refused REMOVEs changed nothing.
    assert.deepEqual((await h.server.userData({ user_id: user }, { secret: p.secret_key })).cohort_ids, [id]);
    // 100,000 ids are allowed.
    const many = await cohortApiOk(h.server, 'POST', '/api/3/cohorts/membership', { cohort_id: id, memberships: [entry({ ids: new Array(100000).fill('nobody-x'), operation: 'ADD' })] }, p);
    assert.equal(many.memberships_result[0].skipped_ids.length, 100000);
  });

  it('405 for wrong methods, 404 for unknown paths', async () => {
    await expectCohortError('POST', '/api/3/cohorts', {}, 405);
    await expectCohortError('GET', '/api/3/cohorts/upload', undefined, 405);
    await expectCohortError('PUT', '/api/3/cohorts/membership', {}, 405);
    assert.equal((await cohortApi(h.server, 'POST', '/api/3/cohorts', {}, p)).headers.allow, 'GET, OPTIONS');
    assert.equal((await cohortApi(h.server, 'GET', '/api/3/cohorts/upload', undefined, p)).headers.allow, 'POST, OPTIONS');
    await expectCohortError('GET', '/api/3/cohorts/upload/extra', undefined, 404);
    await expectCohortError('GET', '/api/3/cohorts/unknown', undefined, 404);
    await expectCohortError('GET', '/api/5/cohorts/request', undefined, 404);
    await expectCohortError('GET', '/api/5/cohorts/other/x', undefined, 404);
    await expectCohortError('GET', '/api/5/cohorts/request/no-such-cohort', undefined, 404);
  });
});

describe('project isolation of the new endpoints', () => {
  const h = sharedServer({ projects: [A, B, C] });

  it('admin paths of one project never show or change another\'s definitions', async () => {
    const s = h.server;
    await putAllReady(s, A.id, [
      ['computations', 1, GOOD_COMPUTATION],
      ['cohorts', 'a-only', GOOD_COHORT],
    ]);
    assert.deepEqual(await s.adminOk('GET', `/projects/${B.id}/computations`), { computations: [] });
    assert.deepEqual(await s.adminOk('GET', `/projects/${B.id}/cohorts`), { cohorts: [] });
    assert.equal((await s.admin('GET', `/projects/${B.id}/computations/1`)).status, 404);
    assert.equal((await s.admin('GET', `/projects/${B.id}/cohorts/a-only`)).status, 404);
    assert.equal((await s.admin('GET', `/projects/${B.id}/cohorts/a-only/members`)).status, 404);
    assert.equal((await s.admin('DELETE', `/projects/${B.id}/cohorts/a-only`)).status, 404);
    assert.equal((await s.admin('DELETE', `/projects/${B.id}/computations/1`)).status, 404);
    // References resolve within the project only.
    assert.equal((await s.admin('PUT', `/projects/${B.id}/cohorts/ref`, cohort('ref', cohortRef('a-only')))).status, 400);
    assert.equal((await s.admin('PUT', `/projects/${B.id}/cohorts/ref`, cohort('ref', { type: 'computed_property', prop: 1, op: 'set' }))).status, 400);
    // The same ids in B are B's own.
    await putAllReady(s, B.id, [
      ['computations', 1, { name: 'b sum', type: 'sum', event_type: 'Purchase', property: 'price' }],
      ['cohorts', 'a-only', cohort('b version', eventCond('Purchase', '>=', 5))],
    ]);
    assert.equal((await s.adminOk('GET', `/projects/${A.id}/computations/1`)).name, 'purchases');
    assert.equal((await s.adminOk('GET', `/projects/${A.id}/cohorts/a-only`)).name, 'buyers');
    assert.deepEqual(await s.adminOk('DELETE', `/projects/${B.id}/computations/1`), { deleted: true });
    assert.equal((await s.adminOk('GET', `/projects/${A.id}/computations/1`)).status, 'ready');

    // Profile reads: the same user id in both projects sees its project's definitions only.
    const user = uid('iso-user');
    for (const p of [A, B]) {
      const c = await sdkClient(s, p.api_key);
      await sdkTrack(c, [['Purchase', { price: 2 }, { user_id: user, time: daysAgo(1) }]]);
    }
    const a = await s.userData({ user_id: user }, { secret: A.secret_key });
    assert.deepEqual([a.computed_properties, a.cohort_ids], [{ 1: 1 }, ['a-only']]);
    const b = await s.userData({ user_id: user }, { secret: B.secret_key });
    assert.deepEqual([b.computed_properties, b.cohort_ids], [{}, []]);
    assert.deepEqual((await s.userData({ user_id: user, comp_id: '1' }, { secret: B.secret_key })).computed_properties, {});
    // The Amplitude-dialect project C has none either.
    const c = await sdkClient(s, C.api_key);
    await sdkTrack(c, [['Purchase', { price: 2 }, { user_id: user, time: daysAgo(1) }]]);
    const cd = await s.userData({ user_id: user, get_computations: 'true', get_cohort_ids: 'true' }, { secret: C.secret_key });
    assert.deepEqual([cd.amp_props, cd.cohort_ids], [{}, []]);
    // A's member export lists A's user only.
    const members = csvMembers((await s.admin('GET', `/projects/${A.id}/cohorts/a-only/members`)).text);
    assert.deepEqual(members, [`${a.amplitude_id},${user}`]);
  });

  it('the cohort API with one project\'s keys never sees or changes another\'s cohorts or downloads', async () => {
    const s = h.server;
    const user = uid('iso-static');
    const onlyB = uid('iso-only-b');
    const ca = await sdkClient(s, A.api_key);
    await sdkTrack(ca, [['Opened', {}, { user_id: user, time: daysAgo(1) }]]);
    const cb = await sdkClient(s, B.api_key);
    await sdkTrack(cb, [['Opened', {}, { user_id: user, time: daysAgo(1) }], ['Opened', {}, { user_id: onlyB, time: daysAgo(1) }]]);

    // A user known only to B is unknown to A's upload.
    const up = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'A static', id_type: 'BY_USER_ID', ids: [user, onlyB] }, A);
    assert.deepEqual(up.metadata, { matched: 1, totals: 2, invalid_ids_sample: [onlyB] });
    const id = up.cohortId;
    // B's list does not show it; B cannot change it.
    const bList = await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, B);
    assert.ok(!bList.cohorts.some((x) => x.id === id), JSON.stringify(bList));
    const bMember = await cohortApi(s, 'POST', '/api/3/cohorts/membership', { cohort_id: id, memberships: [{ ids: [user], id_type: 'BY_NAME', operation: 'REMOVE' }] }, B);
    assert.equal(bMember.status, 400, bMember.text);
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request/${id}`, undefined, B)).status, 404);
    // Uploading to the same id with B's keys makes B's own cohort; A's is untouched.
    const bUp = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'B static', id_type: 'BY_USER_ID', ids: [onlyB], existing_cohort_id: id }, B);
    assert.equal(bUp.cohortId, id);
    assert.deepEqual((await s.userData({ user_id: user }, { secret: A.secret_key })).cohort_ids.filter((x) => x === id), [id]);
    assert.deepEqual((await s.userData({ user_id: user }, { secret: B.secret_key })).cohort_ids.filter((x) => x === id), []);
    assert.deepEqual((await s.userData({ user_id: onlyB }, { secret: B.secret_key })).cohort_ids.filter((x) => x === id), [id]);
    const aList = await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, A);
    const aEntry = aList.cohorts.find((x) => x.id === id);
    assert.deepEqual([aEntry.name, aEntry.size], ['A static', 1]);

    // A download request id of A is unknown to B.
    const { requestId, file } = await downloadMembers(s, A, id);
    const aUserId = (await s.userData({ user_id: user }, { secret: A.secret_key })).amplitude_id;
    assert.deepEqual(csvMembers(file.text), [`${aUserId},${user}`]);
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request-status/${requestId}`, undefined, B)).status, 404);
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request/${requestId}/file`, undefined, B)).status, 404);
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request-status/${requestId}`, undefined, C)).status, 404);
    // ... and still known to A.
    assert.equal((await cohortApi(s, 'GET', `/api/5/cohorts/request-status/${requestId}`, undefined, A)).status, 200);
  });
});
