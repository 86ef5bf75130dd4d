// Static cohorts through Amplitude's cohort API (reference/amplitude.md §3.2, Basic auth
// api_key:secret_key): upload BY_USER_ID and BY_AMP_ID, membership ADD/REMOVE, replacement
// with existing_cohort_id, the list with sizes, the member download flow, and membership in
// Profile API reads. An anonymous device's static membership follows it into a user.
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
  putReady,
  sdkClient,
  sdkTrack,
} from './compute-helpers.js';

const P = makeProjects('st', 8, 'seed');
const AMP = makeProjects('stamp', 1, 'amplitude')[0];

describe('static cohorts', () => {
  const h = sharedServer({ projects: [...P, AMP] });

  // Users known to project p (one event each); returns [{user, id}] with their amplitude_ids.
  async function users(p, n, prefix = 'st') {
    const c = await sdkClient(h.server, p.api_key);
    const names = Array.from({ length: n }, (_, i) => uid(`${prefix}${i}`));
    await sdkTrack(c, names.map((u) => ['Opened', {}, { user_id: u, time: daysAgo(1) }]));
    const out = [];
    for (const u of names) out.push({ user: u, id: (await h.server.userData({ user_id: u }, { secret: p.secret_key })).amplitude_id });
    return out;
  }

  async function cohortIdsOf(p, user) {
    return [...(await h.server.userData({ user_id: user }, { secret: p.secret_key })).cohort_ids].sort();
  }

  async function listed(p) {
    const body = await cohortApiOk(h.server, 'GET', '/api/3/cohorts', undefined, p);
    return body.cohorts;
  }

  it('upload BY_USER_ID: unknown ids are skipped and reported; members show in reads, the list and the admin API', async () => {
    const p = P[0];
    const s = h.server;
    const [a, b, c] = await users(p, 3);
    const up = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', {
      name: 'Beta testers',
      app_id: 123,
      id_type: 'BY_USER_ID',
      ids: [a.user, b.user, 'nobody-here-1', 'nobody-here-2'],
      owner: 'e2e@example.com',
      published: true,
    }, p);
    assert.equal(typeof up.cohortId, 'string');
    assert.match(up.cohortId, /^[A-Za-z0-9_.-]{1,128}$/);
    assert.deepEqual(up.metadata, { matched: 2, totals: 4, invalid_ids_sample: ['nobody-here-1', 'nobody-here-2'] });
    const id = up.cohortId;
    assert.deepEqual(await cohortIdsOf(p, a.user), [id]);
    assert.deepEqual(await cohortIdsOf(p, b.user), [id]);
    assert.deepEqual(await cohortIdsOf(p, c.user), []);

    const list = await listed(p);
    assert.equal(list.length, 1);
    const entry = list[0];
    assert.equal(entry.id, id);
    assert.equal(entry.name, 'Beta testers');
    assert.equal(entry.type, 'static');
    assert.equal(entry.size, 2);
    assert.equal(entry.archived, false);
    assert.equal(typeof entry.lastMod, 'number');

    const admin = await s.adminOk('GET', `/projects/${p.id}/cohorts/${id}`);
    assert.equal(admin.id, id);
    assert.equal(admin.name, 'Beta testers');
    assert.equal(admin.status, 'ready');
    const exported = await s.admin('GET', `/projects/${p.id}/cohorts/${id}/members`);
    assert.deepEqual(csvMembers(exported.text), [`${a.id},${a.user}`, `${b.id},${b.user}`].sort());
  });

  it('upload BY_AMP_ID takes numbers and strings; unknown and malformed amplitude ids are skipped', async () => {
    const p = P[1];
    const s = h.server;
    const [a, b, c] = await users(p, 3);
    const up = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', {
      name: 'by amp id',
      id_type: 'BY_AMP_ID',
      ids: [a.id, String(c.id), 987654321, 'abc'],
    }, p);
    assert.deepEqual(up.metadata, { matched: 2, totals: 4, invalid_ids_sample: ['987654321', 'abc'] });
    assert.deepEqual(await cohortIdsOf(p, a.user), [up.cohortId]);
    assert.deepEqual(await cohortIdsOf(p, b.user), []);
    assert.deepEqual(await cohortIdsOf(p, c.user), [up.cohortId]);
    assert.equal((await listed(p))[0].size, 2);
  });

  it('membership ADD and REMOVE, BY_NAME and BY_ID, in order; unknown ids are skipped per entry', async () => {
    const p = P[2];
    const s = h.server;
    const [a, b, c, d] = await users(p, 4);
    const { cohortId: id } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'm', id_type: 'BY_USER_ID', ids: [a.user, b.user] }, p);
    const res = await cohortApiOk(s, 'POST', '/api/3/cohorts/membership', {
      cohort_id: id,
      count_group: 'User',
      memberships: [
        { ids: [c.user, 'ghost-user'], id_type: 'BY_NAME', operation: 'ADD' },
        { ids: [String(a.id), 424242424], id_type: 'BY_ID', operation: 'REMOVE' },
        { ids: [d.id], id_type: 'BY_ID', operation: 'ADD' },
        { ids: [d.user], id_type: 'BY_NAME', operation: 'REMOVE' },
      ],
    }, p);
    assert.deepEqual(res, {
      cohort_id: id,
      memberships_result: [
        { skipped_ids: ['ghost-user'], id_type: 'BY_NAME', operation: 'ADD' },
        { skipped_ids: ['424242424'], id_type: 'BY_ID', operation: 'REMOVE' },
        { skipped_ids: [], id_type: 'BY_ID', operation: 'ADD' },
        { skipped_ids: [], id_type: 'BY_NAME', operation: 'REMOVE' },
      ],
    });
    assert.deepEqual(await cohortIdsOf(p, a.user), []);
    assert.deepEqual(await cohortIdsOf(p, b.user), [id]);
    assert.deepEqual(await cohortIdsOf(p, c.user), [id]);
    assert.deepEqual(await cohortIdsOf(p, d.user), []);
    // Adding a member twice, or removing a non-member, changes nothing.
    await cohortApiOk(s, 'POST', '/api/3/cohorts/membership', {
      cohort_id: id,
      memberships: [
        { ids: [b.user], id_type: 'BY_NAME', operation: 'ADD' },
        { ids: [a.user], id_type: 'BY_NAME', operation: 'REMOVE' },
      ],
    }, p);
    assert.equal((await listed(p))[0].size, 2);
    const exported = await s.admin('GET', `/projects/${p.id}/cohorts/${id}/members?format=jsonl`);
    assert.deepEqual(
      exported.text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).sort((x, y) => x.amplitude_id - y.amplitude_id),
      [{ amplitude_id: b.id, user_id: b.user }, { amplitude_id: c.id, user_id: c.user }].sort((x, y) => x.amplitude_id - y.amplitude_id),
    );
  });

  it('skip_invalid_ids: false refuses unknown ids and changes nothing', async () => {
    const p = P[3];
    const s = h.server;
    const [a, b, c] = await users(p, 3);
    const refusedUpload = await cohortApi(s, 'POST', '/api/3/cohorts/upload', {
      name: 'strict', id_type: 'BY_USER_ID', ids: [a.user, 'not-a-user'], skip_invalid_ids: false,
    }, p);
    assert.equal(refusedUpload.status, 400, refusedUpload.text);
    assert.equal(refusedUpload.json.http_code, 400);
    assert.match(refusedUpload.json.message, /not-a-user/);
    assert.deepEqual(await listed(p), []);
    assert.deepEqual(await cohortIdsOf(p, a.user), []);

    const { cohortId: id } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'strict', id_type: 'BY_USER_ID', ids: [a.user], skip_invalid_ids: false }, p);
    const refused = await cohortApi(s, 'POST', '/api/3/cohorts/membership', {
      cohort_id: id,
      skip_invalid_ids: false,
      memberships: [
        { ids: [b.user], id_type: 'BY_NAME', operation: 'ADD' },
        { ids: [a.id], id_type: 'BY_ID', operation: 'REMOVE' },
        { ids: [c.user, 'missing-user'], id_type: 'BY_NAME', operation: 'ADD' },
      ],
    }, p);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.json.message, /missing-user/);
    assert.deepEqual(await cohortIdsOf(p, a.user), [id]);
    assert.deepEqual(await cohortIdsOf(p, b.user), []);
    assert.deepEqual(await cohortIdsOf(p, c.user), []);
    assert.equal((await listed(p))[0].size, 1);
  });

  it('existing_cohort_id replaces the members and the name of a static cohort', async () => {
    const p = P[4];
    const s = h.server;
    const [a, b, c] = await users(p, 3);
    const { cohortId: id } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'v1', id_type: 'BY_USER_ID', ids: [a.user, b.user] }, p);
    const again = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'v2', id_type: 'BY_AMP_ID', ids: [c.id, b.id], existing_cohort_id: id }, p);
    assert.equal(again.cohortId, id);
    assert.deepEqual(again.metadata, { matched: 2, totals: 2, invalid_ids_sample: [] });
    assert.deepEqual(await cohortIdsOf(p, a.user), []);
    assert.deepEqual(await cohortIdsOf(p, b.user), [id]);
    assert.deepEqual(await cohortIdsOf(p, c.user), [id]);
    const list = await listed(p);
    assert.deepEqual(list.map((x) => [x.id, x.name, x.size]), [[id, 'v2', 2]]);
    // A behavioral cohort cannot be replaced or changed through the cohort API.
    await putReady(s, p.id, 'cohorts', 'openers', cohort('openers', eventCond('Opened', '>=', 1)));
    const replace = await cohortApi(s, 'POST', '/api/3/cohorts/upload', { name: 'x', id_type: 'BY_USER_ID', ids: [a.user], existing_cohort_id: 'openers' }, p);
    assert.equal(replace.status, 400, replace.text);
    const member = await cohortApi(s, 'POST', '/api/3/cohorts/membership', { cohort_id: 'openers', memberships: [{ ids: [a.user], id_type: 'BY_NAME', operation: 'REMOVE' }] }, p);
    assert.equal(member.status, 400, member.text);
    assert.deepEqual(await cohortIdsOf(p, a.user), ['openers']);
    const unknown = await cohortApi(s, 'POST', '/api/3/cohorts/membership', { cohort_id: 'no-such-cohort', memberships: [{ ids: [a.user], id_type: 'BY_NAME', operation: 'ADD' }] }, p);
    assert.equal(unknown.status, 400, unknown.text);
  });

  it('the download flow returns a CSV of the members, for static and behavioral cohorts', async () => {
    const p = P[5];
    const s = h.server;
    const [a, b, c] = await users(p, 3);
    const { cohortId: id } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'dl', id_type: 'BY_USER_ID', ids: [a.user, c.user] }, p);
    const { file } = await downloadMembers(s, p, id);
    assert.match(file.headers['content-type'], /^text\/csv/);
    assert.deepEqual(csvMembers(file.text), [`${a.id},${a.user}`, `${c.id},${c.user}`].sort());

    await putReady(s, p.id, 'cohorts', 'everyone', cohort('everyone', eventCond('_active', '>=', 1)));
    const all = await downloadMembers(s, p, 'everyone');
    assert.deepEqual(csvMembers(all.file.text), [a, b, c].map((x) => `${x.id},${x.user}`).sort());

    // An empty cohort downloads as the header alone.
    const { cohortId: empty } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'empty', id_type: 'BY_USER_ID', ids: ['nobody-at-all'] }, p);
    assert.equal((await downloadMembers(s, p, empty)).file.text, 'amplitude_id,user_id\n');

    assert.equal((await cohortApi(s, 'GET', '/api/5/cohorts/request/no-such-cohort', undefined, p)).status, 404);
    assert.equal((await cohortApi(s, 'GET', '/api/5/cohorts/request-status/no-such-request', undefined, p)).status, 404);
    assert.equal((await cohortApi(s, 'GET', '/api/5/cohorts/request/no-such-request/file', undefined, p)).status, 404);
  });

  it('an anonymous device in a static cohort brings its membership and aggregates into the user it merges into', async () => {
    const p = P[6];
    const s = h.server;
    await putReady(s, p.id, 'computations', 1, { name: 'spent', type: 'sum', event_type: 'Purchase', property: 'price' });
    const c = await sdkClient(s, p.api_key);
    const user = uid('st-user');
    const anon = uid('st-anon');
    await sdkTrack(c, [
      ['Purchase', { price: 5 }, { user_id: user, device_id: uid('st-own'), time: daysAgo(2) }],
      ['Purchase', { price: 7 }, { device_id: anon, time: daysAgo(3) }],
    ]);
    const anonId = (await s.userData({ device_id: anon }, { secret: p.secret_key })).amplitude_id;
    const userId = (await s.userData({ user_id: user }, { secret: p.secret_key })).amplitude_id;
    assert.notEqual(anonId, userId);
    const { cohortId: id } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'anon', id_type: 'BY_AMP_ID', ids: [anonId] }, p);
    // A behavioral cohort over the static one.
    await putReady(s, p.id, 'cohorts', 'anon-buyers', cohort('anon buyers', cohortRef(id), eventCond('Purchase', '>=', 2)));
    assert.deepEqual((await s.userData({ device_id: anon }, { secret: p.secret_key })).cohort_ids, [id]);

    await sdkTrack(c, [['Logged In', {}, { user_id: user, device_id: anon, time: daysAgo(0) }]]);
    const merged = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.equal(merged.amplitude_id, userId);
    assert.deepEqual(merged.computed_properties, { 1: 12 });
    assert.deepEqual([...merged.cohort_ids].sort(), ['anon-buyers', id].sort());
    assert.deepEqual(csvMembers((await s.admin('GET', `/projects/${p.id}/cohorts/${id}/members`)).text), [`${userId},${user}`]);
    assert.deepEqual((await listed(p)).map((x) => [x.id, x.size]).sort(), [['anon-buyers', 1], [id, 1]].sort());
  });

  it('a static cohort deleted and uploaded again under the same id starts with the new members only', async () => {
    const p = P[7];
    const s = h.server;
    const [a, b] = await users(p, 2);
    await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'old', id_type: 'BY_USER_ID', ids: [a.user], existing_cohort_id: 'reused' }, p);
    assert.deepEqual(await cohortIdsOf(p, a.user), ['reused']);
    assert.deepEqual(await s.adminOk('DELETE', `/projects/${p.id}/cohorts/reused`), { deleted: true });
    assert.deepEqual(await cohortIdsOf(p, a.user), []);
    const again = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'new', id_type: 'BY_USER_ID', ids: [b.user], existing_cohort_id: 'reused' }, p);
    assert.equal(again.cohortId, 'reused');
    assert.deepEqual(await cohortIdsOf(p, a.user), []);
    assert.deepEqual(await cohortIdsOf(p, b.user), ['reused']);
    assert.deepEqual(csvMembers((await s.admin('GET', `/projects/${p.id}/cohorts/reused/members`)).text), [`${b.id},${b.user}`]);
    assert.deepEqual((await listed(p)).map((x) => [x.id, x.size]), [['reused', 1]]);
    // An existing_cohort_id that no cohort could have is refused.
    for (const bad of ['bad id', 'a/b', '../x', 'x'.repeat(129)]) {
      const res = await cohortApi(s, 'POST', '/api/3/cohorts/upload', { name: 'n', id_type: 'BY_USER_ID', ids: [a.user], existing_cohort_id: bad }, p);
      assert.equal(res.status, 400, `${bad}: ${res.text}`);
      assert.match(res.json.message, /existing_cohort_id/);
    }
    assert.deepEqual((await listed(p)).map((x) => x.id), ['reused']);
  });

  it('a static cohort reads in the Amplitude dialect and goes away when deleted over the admin API', async () => {
    const p = AMP;
    const s = h.server;
    const [a] = await users(p, 1, 'stamp');
    const { cohortId: id } = await cohortApiOk(s, 'POST', '/api/3/cohorts/upload', { name: 'amp', id_type: 'BY_USER_ID', ids: [a.user] }, p);
    const read = async () => (await s.userData({ user_id: a.user, get_cohort_ids: 'true' }, { secret: p.secret_key })).cohort_ids;
    assert.deepEqual(await read(), [id]);
    assert.deepEqual(await s.adminOk('DELETE', `/projects/${p.id}/cohorts/${id}`), { deleted: true });
    assert.deepEqual(await read(), []);
    assert.deepEqual(await listed(p), []);
    assert.equal((await s.admin('GET', `/projects/${p.id}/cohorts/${id}/members`)).status, 404);
  });
});
