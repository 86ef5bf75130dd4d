// Exact at the moment of the read as the clock moves (issue 6, "Behaviour"): a user whose
// qualifying events leave a rolling window drops out of the cohort and the computation at that
// moment, with no new event and no batch job. The server's clock is moved with the test-only
// admin endpoint (`[testing] clock_control`) or started with `[testing] clock_offset_ms`.
import assert from 'node:assert/strict';
import { describe, it, sharedServer, startServer, uid } from './harness.js';
import {
  cohort,
  cohortApiOk,
  DAY,
  daysAgo,
  eventCond,
  makeProjects,
  putReady,
  sdkClient,
  sdkTrack,
  userPropCond,
  utcDayStart,
} from './compute-helpers.js';

const P = makeProjects('clk', 4, 'seed');
const AMP = makeProjects('clkamp', 1, 'amplitude')[0];
const BOOKS = [{ prop: 'category', op: 'is', values: ['books'] }];

// Sets the server's clock to the absolute time `ms` (an offset from the system clock).
async function setServerTime(server, ms) {
  const r = await server.setClockOffset(Math.round(ms - Date.now()));
  return r;
}

describe('drop-out as the clock moves', () => {
  const h = sharedServer({ projects: [...P, AMP], clockControl: true });

  it('the clock endpoint reports and moves the offset', async () => {
    const s = h.server;
    const before = await s.adminOk('GET', '/testing/clock');
    assert.equal(before.offset_ms, 0);
    assert.ok(Math.abs(before.now_ms - Date.now()) < 60000, JSON.stringify(before));
    const moved = await s.setClockOffset(2 * DAY);
    assert.equal(moved.offset_ms, 2 * DAY);
    assert.ok(Math.abs(moved.now_ms - (Date.now() + 2 * DAY)) < 60000, JSON.stringify(moved));
    assert.equal((await s.adminOk('GET', '/testing/clock')).offset_ms, 2 * DAY);
    assert.equal((await s.setClockOffset(-5)).offset_ms, -5);
    await s.setClockOffset(0);
  });

  it('a user whose 3rd qualifying event is 29 days old is in a 30-day cohort, and out two days later with no new event', async () => {
    const s = h.server;
    const p = P[0];
    await s.setClockOffset(0);
    await putReady(s, p.id, 'computations', 1, { name: 'books 30d', type: 'count', event_type: 'Purchase', where: BOOKS, window_days: 30 });
    await putReady(s, p.id, 'cohorts', 'c1', cohort('vip', userPropCond('vip', 'is', ['yes'])));
    await putReady(s, p.id, 'cohorts', 'c9xk2', cohort(
      'Engaged German buyers',
      eventCond('Purchase', '>=', 3, { days: 30, filters: BOOKS }),
      userPropCond('country', 'is', ['DE']),
      { negated: true, or: [{ type: 'cohort', type_value: 'c1' }] },
    ));
    const c = await sdkClient(s, p.api_key);
    const user = uid('drop');
    const other = uid('stay');
    const buy = (u, days) => ['Purchase', { category: 'books' }, { user_id: u, time: daysAgo(days), country: 'DE' }];
    await sdkTrack(c, [buy(user, 29), buy(user, 12), buy(user, 3), buy(other, 20), buy(other, 10), buy(other, 1)]);
    const read = (u) => s.userData({ user_id: u }, { secret: p.secret_key });
    assert.deepEqual(await read(user).then((d) => [d.cohort_ids, d.computed_properties]), [['c9xk2'], { 1: 3 }]);
    const members = async () => (await s.admin('GET', `/projects/${p.id}/cohorts/c9xk2/members?format=jsonl`)).text.split('\n').filter(Boolean).length;
    assert.equal(await members(), 2);

    // Two days later the 29-day-old purchase is 31 days old: out, with no event in between.
    await s.setClockOffset(2 * DAY);
    assert.deepEqual(await read(user).then((d) => [d.cohort_ids, d.computed_properties]), [[], { 1: 2 }]);
    assert.deepEqual(await read(other).then((d) => [d.cohort_ids, d.computed_properties]), [['c9xk2'], { 1: 3 }]);
    // The member export and the cohort API's size follow the same clock.
    assert.equal(await members(), 1);
    const listed = await cohortApiOk(s, 'GET', '/api/3/cohorts', undefined, p);
    assert.equal(listed.cohorts.find((x) => x.id === 'c9xk2').size, 1);

    // A new purchase (dated at the server's now) brings the user back.
    await sdkTrack(c, [['Purchase', { category: 'books' }, { user_id: user, time: Date.now() + 2 * DAY, country: 'DE' }]]);
    assert.deepEqual(await read(user).then((d) => [d.cohort_ids, d.computed_properties]), [['c9xk2'], { 1: 3 }]);
    // 26 more days: only the user's new purchase and the other's 1-day-old one are left.
    await s.setClockOffset(28 * DAY);
    assert.deepEqual(await read(user).then((d) => [d.cohort_ids, d.computed_properties]), [[], { 1: 1 }]);
    assert.deepEqual(await read(other).then((d) => [d.cohort_ids, d.computed_properties]), [[], { 1: 1 }]);
    await s.setClockOffset(0);
  });

  it('the Amplitude dialect drops out the same way', async () => {
    const s = h.server;
    const p = AMP;
    await s.setClockOffset(0);
    await putReady(s, p.id, 'computations', 2, { name: 'plays 7d', type: 'sum', event_type: 'Play', property: 'seconds', window_days: 7 });
    await putReady(s, p.id, 'cohorts', 'active7', cohort('active', eventCond('_active', '>=', 1, { days: 7 })));
    const c = await sdkClient(s, p.api_key);
    const user = uid('amp-drop');
    await sdkTrack(c, [['Play', { seconds: 30 }, { user_id: user, time: daysAgo(6) }], ['Play', { seconds: 12 }, { user_id: user, time: daysAgo(2) }]]);
    const read = async () => {
      const d = await s.userData({ user_id: user, get_cohort_ids: 'true', get_computations: 'true' }, { secret: p.secret_key });
      return [d.cohort_ids, d.amp_props];
    };
    assert.deepEqual(await read(), [['active7'], { 'computed-prop-2': '42' }]);
    await s.setClockOffset(3 * DAY);
    assert.deepEqual(await read(), [['active7'], { 'computed-prop-2': '12' }]);
    await s.setClockOffset(7 * DAY);
    assert.deepEqual(await read(), [[], { 'computed-prop-2': '0' }]);
    await s.setClockOffset(0);
  });

  it('day boundaries are UTC days: an event counts for N whole days, then leaves at midnight', async () => {
    const s = h.server;
    const p = P[1];
    await s.setClockOffset(0);
    await putReady(s, p.id, 'computations', 1, { name: 'today', type: 'count', event_type: 'Ping', window_days: 1 });
    await putReady(s, p.id, 'computations', 30, { name: '30 days', type: 'count', event_type: 'Ping', window_days: 30 });
    await putReady(s, p.id, 'cohorts', 'today', cohort('today', eventCond('Ping', '>=', 1, { days: 1 })));
    await putReady(s, p.id, 'cohorts', 'month', cohort('month', eventCond('Ping', '>=', 1, { days: 30 })));
    // Day D is tomorrow (UTC); the server's clock goes to one minute before D ends.
    const D = utcDayStart(Date.now()) + DAY;
    await setServerTime(s, D + DAY - 60000);
    const c = await sdkClient(s, p.api_key);
    const early = uid('early'); // an event in the first seconds of day D
    const monthOld = uid('monthold'); // the first seconds of day D-29: the oldest day of D's 30
    const tooOld = uid('tooold'); // the last seconds of day D-30: just out of D's 30 days
    await sdkTrack(c, [
      ['Ping', {}, { user_id: early, time: D + 30000 }],
      ['Ping', {}, { user_id: monthOld, time: D - 29 * DAY + 30000 }],
      ['Ping', {}, { user_id: tooOld, time: D - 29 * DAY - 30000 }],
    ]);
    const read = async (u) => {
      const d = await s.userData({ user_id: u }, { secret: p.secret_key });
      return [[...d.cohort_ids].sort(), d.computed_properties];
    };
    assert.deepEqual(await read(early), [['month', 'today'], { 1: 1, 30: 1 }]);
    assert.deepEqual(await read(monthOld), [['month'], { 1: 0, 30: 1 }]);
    assert.deepEqual(await read(tooOld), [[], { 1: 0, 30: 0 }]);
    // One minute after midnight: day D+1.
    await setServerTime(s, D + DAY + 60000);
    assert.deepEqual(await read(early), [['month'], { 1: 0, 30: 1 }]);
    assert.deepEqual(await read(monthOld), [[], { 1: 0, 30: 0 }]);
    // 29 days later, at the last minute of D+29, the early event is still in the 30 days;
    // two minutes later it is not.
    await setServerTime(s, D + 30 * DAY - 60000);
    assert.deepEqual(await read(early), [['month'], { 1: 0, 30: 1 }]);
    await setServerTime(s, D + 30 * DAY + 60000);
    assert.deepEqual(await read(early), [[], { 1: 0, 30: 0 }]);
    await s.setClockOffset(0);
  });

  it('an event arriving late, already older than the window, never counts', async () => {
    const s = h.server;
    const p = P[2];
    await s.setClockOffset(0);
    await putReady(s, p.id, 'computations', 1, { name: 'week', type: 'count', event_type: 'Ping', window_days: 7 });
    await putReady(s, p.id, 'computations', 2, { name: 'all', type: 'count', event_type: 'Ping' });
    const c = await sdkClient(s, p.api_key);
    const user = uid('late');
    // Dated 8 days ago: out of the week, in the all-time count.
    await sdkTrack(c, [['Ping', {}, { user_id: user, time: daysAgo(8) }], ['Ping', {}, { user_id: user, time: daysAgo(5) }]]);
    const read = async () => (await s.userData({ user_id: user }, { secret: p.secret_key })).computed_properties;
    assert.deepEqual(await read(), { 1: 1, 2: 2 });
    // Back in time by two days: the 8-day-old event would be 6 days old, but it was already
    // out of the window when it arrived, and it stays out.
    await s.setClockOffset(-2 * DAY);
    assert.deepEqual(await read(), { 1: 1, 2: 2 });
    await s.setClockOffset(0);
  });
});

describe('a clock offset from the config file', () => {
  it('[testing] clock_offset_ms moves the read time from the start', async () => {
    const p = P[3];
    const s = await startServer({ projects: [p], testing: { clock_offset_ms: 3 * DAY } });
    try {
      await putReady(s, p.id, 'computations', 1, { name: 'week', type: 'count', event_type: 'Ping', window_days: 7 });
      const c = await sdkClient(s, p.api_key);
      const user = uid('cfgclock');
      // 5 days before the real now is 8 days before the server's.
      await sdkTrack(c, [['Ping', {}, { user_id: user, time: daysAgo(5) }], ['Ping', {}, { user_id: user, time: daysAgo(1) }]]);
      assert.deepEqual((await s.userData({ user_id: user }, { secret: p.secret_key })).computed_properties, { 1: 1 });
      // Without clock_control the clock endpoint does not exist.
      assert.equal((await s.admin('GET', '/testing/clock')).status, 404);
      assert.equal((await s.admin('PUT', '/testing/clock', { offset_ms: 0 })).status, 404);
    } finally {
      await s.dispose();
    }
  });
});
