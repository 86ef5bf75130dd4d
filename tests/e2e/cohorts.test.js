// Behavioral cohorts (issue 6, docs/COMPUTE.md "Cohorts"): definitions in Amplitude's
// shape put over the admin API, events from the official Node SDK, membership read in both
// dialects exactly at the moment of the read, and the admin member export.
import assert from 'node:assert/strict';
import { Identify } from '@amplitude/analytics-node';
import { describe, it, sharedServer, uid } from './harness.js';
import {
  cohort,
  cohortRef,
  daysAgo,
  DAY,
  eventCond,
  makeProjects,
  putAllReady,
  putReady,
  sdkClient,
  sdkTrack,
  userPropCond,
} from './compute-helpers.js';

const SEEDS = makeProjects('hseed', 6, 'seed');
const AMPS = makeProjects('hamp', 1, 'amplitude');

const BOOKS = [{ prop: 'category', op: 'is', values: ['books'] }];

// The cohort of the issue: 3 purchases of books in 30 days AND country DE AND NOT in c1.
function issueCohort(c1) {
  return cohort(
    'Engaged German buyers',
    eventCond('Purchase', '>=', 3, { days: 30, filters: BOOKS }),
    userPropCond('country', 'is', ['DE']),
    { negated: true, or: [cohortRef(c1)] },
  );
}

async function cohortsOf(server, project, params) {
  const d = await server.userData(params, { secret: project.secret_key });
  return [...d.cohort_ids].sort();
}

describe('behavioral cohorts', () => {
  const h = sharedServer({ projects: [...SEEDS, ...AMPS] });

  it("the issue's cohort: the 3rd purchase puts the user in on the very next read (seed dialect)", async () => {
    const p = SEEDS[0];
    const s = h.server;
    await putAllReady(s, p.id, [
      ['cohorts', 'c1', cohort('VIPs', userPropCond('vip', 'is', ['yes']))],
      ['cohorts', 'c9xk2', issueCohort('c1')],
    ]);
    const c = await sdkClient(s, p.api_key);
    const buy = (user, days, category = 'books', extra = {}) => [
      'Purchase',
      { category },
      { user_id: user, time: daysAgo(days), country: 'DE', ...extra },
    ];

    // Two books in the window, one out of it, one toy: not yet.
    const anna = uid('anna');
    await sdkTrack(c, [buy(anna, 2), buy(anna, 40), buy(anna, 5), buy(anna, 1, 'toys')]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: anna }), []);
    // The third book purchase, dated now: in on the next read, no job in between.
    await sdkTrack(c, [buy(anna, 0)]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: anna }), ['c9xk2']);

    // Three books but not in DE.
    const fritz = uid('fritz');
    await sdkTrack(c, [buy(fritz, 1, 'books', { country: 'FR' }), buy(fritz, 2, 'books', { country: 'FR' }), buy(fritz, 3, 'books', { country: 'FR' })]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: fritz }), []);
    // A custom user property `country` wins over the built-in field.
    await sdkTrack(c, [['Moved', {}, { user_id: fritz, time: daysAgo(0), user_properties: { country: 'DE' } }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: fritz }), ['c9xk2']);

    // In DE with three books, but a VIP (in c1): the negated clause keeps them out.
    const vip = uid('vip');
    await sdkTrack(c, [
      ['Signed Up', {}, { user_id: vip, time: daysAgo(9), user_properties: { vip: 'yes' } }],
      buy(vip, 1),
      buy(vip, 2),
      buy(vip, 3),
    ]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: vip }), ['c1']);
    // Unset vip: out of c1, into c9xk2 on the next read.
    const identify = c.identify(new Identify().unset('vip'), { user_id: vip });
    await c.flush().promise;
    assert.equal((await identify.promise).code, 200);
    assert.deepEqual(await cohortsOf(s, p, { user_id: vip }), ['c9xk2']);
  });

  it('the same cohort read in the Amplitude dialect with get_cohort_ids', async () => {
    const p = AMPS[0];
    const s = h.server;
    await putAllReady(s, p.id, [
      ['cohorts', 'c1', cohort('VIPs', userPropCond('vip', 'is', ['yes']))],
      ['cohorts', 'c9xk2', issueCohort('c1')],
    ]);
    const c = await sdkClient(s, p.api_key);
    const user = uid('amp-buyer');
    const device = uid('amp-buyer-dev');
    const buy = (days) => ['Purchase', { category: 'books' }, { user_id: user, device_id: device, time: daysAgo(days), country: 'DE' }];
    await sdkTrack(c, [buy(29), buy(10)]);
    const read = (q) => s.userData({ user_id: user, ...q }, { secret: p.secret_key });
    assert.deepEqual(await read({ get_cohort_ids: 'true' }), {
      recommendations: null,
      user_id: user,
      device_id: device,
      amp_props: null,
      cohort_ids: [],
    });
    await sdkTrack(c, [buy(0)]);
    assert.deepEqual((await read({ get_cohort_ids: 'true' })).cohort_ids, ['c9xk2']);
    // Without the flag the section is null.
    assert.equal((await read({})).cohort_ids, null);
    assert.deepEqual((await read({ device_id: device, get_cohort_ids: 'true' })).cohort_ids, ['c9xk2']);
  });

  it('user property conditions: every operator on the current value', async () => {
    const p = SEEDS[1];
    const s = h.server;
    const defs = {
      is: userPropCond('plan', 'is', ['pro', 'team']),
      is_not: userPropCond('plan', 'is_not', ['free']),
      contains: userPropCond('email', 'contains', ['@acme.']),
      does_not_contain: userPropCond('email', 'does_not_contain', ['@acme.']),
      greater: userPropCond('age', 'greater', [30]),
      greater_or_equal: userPropCond('age', 'greater_or_equal', [30]),
      less: userPropCond('age', 'less', [30]),
      less_or_equal: userPropCond('age', 'less_or_equal', ['30']),
      set: userPropCond('nickname', 'set'),
      not_set: userPropCond('nickname', 'not_set'),
      gp_prefix: userPropCond('gp:plan', 'is', ['pro']), // Amplitude's exports spell custom properties gp:<name>
      builtin: userPropCond('platform', 'is', ['iOS']),
    };
    await putAllReady(s, p.id, Object.entries(defs).map(([id, cond]) => ['cohorts', id, cohort(id, cond)]));
    const c = await sdkClient(s, p.api_key);
    const make = async (props, extra = {}) => {
      const user = uid('up');
      await sdkTrack(c, [['Seen', {}, { user_id: user, time: daysAgo(1), user_properties: props, ...extra }]]);
      return user;
    };
    const pro = await make({ plan: 'pro', email: 'x@acme.com', age: 31, nickname: 'z' }, { platform: 'iOS' });
    assert.deepEqual(await cohortsOf(s, p, { user_id: pro }), ['builtin', 'contains', 'gp_prefix', 'greater', 'greater_or_equal', 'is', 'is_not', 'set'].sort());
    const free = await make({ plan: 'free', email: 'y@other.org', age: 30 }, { platform: 'Android' });
    assert.deepEqual(await cohortsOf(s, p, { user_id: free }), ['does_not_contain', 'greater_or_equal', 'less_or_equal', 'not_set'].sort());
    // A number sent as a string compares as a number.
    const young = await make({ plan: 'team', age: '29.5', nickname: '' });
    const youngIds = await cohortsOf(s, p, { user_id: young });
    assert.ok(youngIds.includes('less') && youngIds.includes('less_or_equal') && youngIds.includes('is'), JSON.stringify(youngIds));
    assert.ok(!youngIds.includes('greater') && !youngIds.includes('greater_or_equal'), JSON.stringify(youngIds));

    // The condition follows the current value: change the plan, the membership follows.
    const identify = c.identify(new Identify().set('plan', 'free').unset('nickname'), { user_id: pro });
    await c.flush().promise;
    assert.equal((await identify.promise).code, 200);
    const proNow = await cohortsOf(s, p, { user_id: pro });
    assert.ok(!proNow.includes('is') && !proNow.includes('is_not') && !proNow.includes('set') && proNow.includes('not_set'), JSON.stringify(proNow));
  });

  it('computed property conditions compare a computation value', async () => {
    const p = SEEDS[2];
    const s = h.server;
    await putAllReady(s, p.id, [
      ['computations', 5, { name: 'revenue', type: 'sum', event_type: 'Purchase', property: '$revenue' }],
      ['computations', 6, { name: 'last sku', type: 'last', event_type: 'Purchase', property: 'sku' }],
      ['cohorts', 'big', cohort('big', { type: 'computed_property', prop: 5, op: 'greater_or_equal', values: [100] })],
      ['cohorts', 'skuA', cohort('skuA', { type: 'computed_property', prop: '6', op: 'is', values: ['A'] })],
      ['cohorts', 'nosku', cohort('nosku', { type: 'computed_property', prop: '6', op: 'not_set' })],
    ]);
    const c = await sdkClient(s, p.api_key);
    const user = uid('cp');
    await sdkTrack(c, [['Opened', {}, { user_id: user, time: daysAgo(3) }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['nosku']);
    await sdkTrack(c, [['Purchase', { sku: 'A' }, { user_id: user, time: daysAgo(2), revenue: 60 }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['skuA']);
    await sdkTrack(c, [['Purchase', { sku: 'B' }, { user_id: user, time: daysAgo(1), revenue: 40 }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['big']);
    const d = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.deepEqual(d.computed_properties, { 5: 100, 6: 'B' });
  });

  it('negated clauses, OR within a clause, and references to other cohorts', async () => {
    const p = SEEDS[3];
    const s = h.server;
    await putAllReady(s, p.id, [
      // buyers: bought or subscribed in 30 days, and not on the free plan.
      ['cohorts', 'buyers', cohort(
        'buyers',
        { or: [eventCond('Purchase', '>=', 1), eventCond('Subscribed', '>=', 1)] },
        { negated: true, or: [userPropCond('plan', 'is', ['free'])] },
      )],
      // loyal: in buyers and opened the app at least twice in 7 days.
      ['cohorts', 'loyal', cohort('loyal', cohortRef('buyers'), eventCond('Opened', '>=', 2, { days: 7 }))],
      // lapsed: not loyal (a negated reference), with any activity in 90 days.
      ['cohorts', 'lapsed', cohort('lapsed', eventCond('_active', '>=', 1, { days: 90 }), { negated: true, or: [cohortRef('loyal')] })],
      // A negated OR: in neither of the two.
      ['cohorts', 'neither', cohort('neither', { negated: true, or: [cohortRef('buyers'), cohortRef('lapsed')] })],
    ]);

    const c = await sdkClient(s, p.api_key);
    const user = uid('ref');
    await sdkTrack(c, [['Opened', {}, { user_id: user, time: daysAgo(40) }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['lapsed']);
    await sdkTrack(c, [['Subscribed', {}, { user_id: user, time: daysAgo(20), user_properties: { plan: 'pro' } }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['buyers', 'lapsed']);
    await sdkTrack(c, [['Opened', {}, { user_id: user, time: daysAgo(6) }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['buyers', 'lapsed']);
    await sdkTrack(c, [['Opened', {}, { user_id: user, time: daysAgo(1) }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['buyers', 'loyal']);
    // On the free plan: out of buyers, hence out of loyal, hence lapsed.
    await sdkTrack(c, [['Downgraded', {}, { user_id: user, time: daysAgo(0), user_properties: { plan: 'free' } }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['lapsed']);

    // A user active only 85 days ago is lapsed (90 days), in no other cohort.
    const old = uid('ref-old');
    await sdkTrack(c, [['Opened', {}, { user_id: old, time: daysAgo(85) }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: old }), ['lapsed']);
    // Changing a referenced cohort changes the ones that reference it: with a 30-day window
    // the user leaves lapsed, and lands in the negated OR of `neither`.
    await putReady(s, p.id, 'cohorts', 'lapsed', cohort('lapsed', eventCond('_active', '>=', 1, { days: 30 }), { negated: true, or: [cohortRef('loyal')] }));
    assert.deepEqual(await cohortsOf(s, p, { user_id: old }), ['neither']);
  });

  it('event condition operators, metrics (sum, distinct, days) and absolute / since ranges', async () => {
    const p = SEEDS[4];
    const s = h.server;
    const now = Date.now();
    const sec = (ms) => Math.floor(ms / 1000);
    const defs = {
      eq2: eventCond('Play', '=', 2),
      ne2: eventCond('Play', '!=', 2),
      gt2: eventCond('Play', '>', 2),
      lt2: eventCond('Play', '<', 2),
      le2: eventCond('Play', '<=', 2),
      sum50: eventCond('Play', '>=', 50, { metric: { type: 'sum', prop: 'seconds' } }),
      distinct2: eventCond('Play', '>=', 2, { metric: { type: 'distinct', prop: 'song' } }),
      days3: eventCond('Play', '>=', 3, { metric: { type: 'days' } }),
      absolute: eventCond('Play', '>=', 1, { time: { time_type: 'absolute', start: sec(now - 15 * DAY), end: sec(now - 8 * DAY) } }),
      since: eventCond('Play', '>=', 2, { time: { time_type: 'since', start: sec(now - 4.5 * DAY) } }),
      never: eventCond('Play', '<', 1, { days: 365 }),
      revenue: eventCond('Play', '>', 0.5, { metric: { type: 'sum', prop: '$revenue' } }),
    };
    await putAllReady(s, p.id, Object.entries(defs).map(([id, cond]) => ['cohorts', id, cohort(id, cond)]));
    const c = await sdkClient(s, p.api_key);
    const user = uid('ops');
    const play = (days, song, seconds, extra = {}) => ['Play', { song, seconds }, { user_id: user, time: now - days * DAY, ...extra }];
    await sdkTrack(c, [['Signed Up', {}, { user_id: user, time: now - 20 * DAY }]]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['le2', 'lt2', 'ne2', 'never']);
    await sdkTrack(c, [play(10, 'a', 20)]); // in the absolute range
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['absolute', 'le2', 'lt2', 'ne2']);
    await sdkTrack(c, [play(4, 'a', 20, { revenue: 0.75 })]);
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['absolute', 'eq2', 'le2', 'revenue']);
    await sdkTrack(c, [play(4, 'b', '15')]); // same day; seconds as a string
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['absolute', 'distinct2', 'gt2', 'ne2', 'revenue', 'since', 'sum50'].sort());
    await sdkTrack(c, [play(1, 'a', 1)]); // a third day
    assert.deepEqual(await cohortsOf(s, p, { user_id: user }), ['absolute', 'days3', 'distinct2', 'gt2', 'ne2', 'revenue', 'since', 'sum50'].sort());
  });

  it('the admin API exports a behavioral cohort\'s members as CSV and JSON lines', async () => {
    const p = SEEDS[5];
    const s = h.server;
    await putReady(s, p.id, 'cohorts', 'buyers', cohort('buyers', eventCond('Purchase', '>=', 1)));
    const c = await sdkClient(s, p.api_key);
    const a = uid('exp-a');
    const b = uid('exp,"quoted"');
    const anon = uid('exp-anon-dev');
    await sdkTrack(c, [
      ['Purchase', {}, { user_id: a, time: daysAgo(1) }],
      ['Purchase', {}, { user_id: b, time: daysAgo(2) }],
      ['Purchase', {}, { device_id: anon, time: daysAgo(3) }],
      ['Opened', {}, { user_id: uid('exp-no'), time: daysAgo(1) }],
      ['Purchase', {}, { user_id: uid('exp-old'), time: daysAgo(31) }],
    ]);
    const ida = (await s.userData({ user_id: a }, { secret: p.secret_key })).amplitude_id;
    const idb = (await s.userData({ user_id: b }, { secret: p.secret_key })).amplitude_id;
    const idanon = (await s.userData({ device_id: anon }, { secret: p.secret_key })).amplitude_id;

    const csv = await s.admin('GET', `/projects/${p.id}/cohorts/buyers/members?format=csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.headers['content-type'], /^text\/csv/);
    const quoted = `"${b.replaceAll('"', '""')}"`;
    const rows = [[ida, a], [idb, quoted], [idanon, '']].sort((x, y) => x[0] - y[0]).map(([i, u]) => `${i},${u}`);
    assert.equal(csv.text, `amplitude_id,user_id\n${rows.join('\n')}\n`);
    // csv is the default format.
    assert.equal((await s.admin('GET', `/projects/${p.id}/cohorts/buyers/members`)).text, csv.text);

    const jsonl = await s.admin('GET', `/projects/${p.id}/cohorts/buyers/members?format=jsonl`);
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.headers['content-type'], /^application\/x-ndjson/);
    const lines = jsonl.text.split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      [
        { amplitude_id: ida, user_id: a },
        { amplitude_id: idb, user_id: b },
        { amplitude_id: idanon, user_id: null },
      ].sort((x, y) => x.amplitude_id - y.amplitude_id),
    );
    assert.equal((await s.admin('GET', `/projects/${p.id}/cohorts/buyers/members?format=xml`)).status, 400);
    assert.equal((await s.admin('GET', `/projects/${p.id}/cohorts/nosuch/members`)).status, 404);
    assert.equal((await s.admin('DELETE', `/projects/${p.id}/cohorts/buyers/members`)).status, 405);
  });
});
