// kill -9 at random moments on the embedded (RocksDB) store (issue 9, item 3; docs/RELIABILITY.md,
// "Crashes"): during sustained ingestion from several clients, during a backfill, during the
// training of a recommendation. Each round: the load runs, the server is killed with SIGKILL
// after a random delay (a seeded PRNG, its seed logged), and started again on the same data dir
// and port. The clients are faults.js's: they retry like the SDKs (same insert_ids) after the
// restart, or, for half of the batches whose request got no answer, give the batch up.
//
// After the rounds: every acknowledged event's effect is there exactly once (each user's `n`
// is its events acknowledged, plus those of the given-up batches that are there), every
// given-up batch is there whole or not at all (docs/STORAGE.md, "Durability": a commit group is
// one atomic RocksDB write batch), and every batch acknowledged after a request without an
// answer is there whole. With durability "fsync" a 2xx means the WAL is on disk; with
// "buffered" it is in the OS's page cache, which a process crash does not lose: both must keep
// every acknowledged event across kill -9.
//
// PROFILED_CRASH_ROUNDS multiplies every scenario's rounds (a long run); PROFILED_CRASH_SEED
// repeats a run's choices.
import assert from 'node:assert/strict';
import { describe, it, SEED, sleep, startServer } from './harness.js';
import { waitReady } from './compute-helpers.js';
import { assertExactlyOnce, errorLines, healthy, pinPort, seededRandom, startLoad, until } from './faults.js';

const SCALE = Math.max(1, Number(process.env.PROFILED_CRASH_ROUNDS ?? 1));
const INGEST_ROUNDS = { fsync: 40 * SCALE, buffered: 25 * SCALE };
const BACKFILL_ROUNDS = 10 * SCALE;
const TRAINING_ROUNDS = 6 * SCALE;

// The load of every scenario: 4 clients, batches of 2-6 events over 24 shared users, each event
// with its own device (to read its presence alone), half of the unanswered batches given up,
// 3 % of the acknowledged ones delivered twice.
function crashLoad(server, random, tag, extra = {}) {
  return startLoad([server], {
    tag,
    users: 24,
    clientsPerTarget: 4,
    batchEvents: [2, 6],
    devices: true,
    abandon: 0.5,
    resend: 0.03,
    random: random.next,
    ...extra,
  });
}

// One round: once `ready()` says the moment has come and `minAcks` more batches were
// acknowledged since the last start, waits a random 0-`maxDelayMs` ms, kills the server with
// SIGKILL and starts it again. Returns how long the server took to listen again.
async function crashRound(server, load, random, { maxDelayMs, minAcks = 3, ready = async () => true }) {
  await load.progressed(minAcks, 'ingestion before the kill');
  await until(ready, 'the moment to kill');
  await sleep(random.int(0, maxDelayMs));
  load.check();
  const exit = await server.kill9();
  assert.equal(exit.signal, 'SIGKILL');
  const t0 = Date.now();
  await server.restart();
  return Date.now() - t0;
}

function report(what, load, rounds, startMs, restartMs, checked) {
  const s = load.stats;
  console.log(
    `${what}: ${rounds} kill -9 rounds in ${((Date.now() - startMs) / 1000).toFixed(1)} s; ${s.batches} batches / ${s.events} events acknowledged, ` +
      `${s.retriedAcked} of them after a request without an answer, ${s.resent} delivered twice; ${checked.abandoned} batches given up, ${checked.present} of them there whole; ` +
      `restart took ${Math.min(...restartMs)}-${Math.max(...restartMs)} ms; failed attempts ${s.failures.length}`,
  );
}

describe('kill -9 at random moments during sustained ingestion', () => {
  for (const durability of ['fsync', 'buffered']) {
    it(`${durability}: every acknowledged event exactly once, every batch never acknowledged whole or absent`, async () => {
      const random = seededRandom(`crash ingestion ${durability}`);
      const server = pinPort(await startServer({ projects: [SEED], durability }));
      const load = crashLoad(server, random, `crash-${durability}`);
      const t0 = Date.now();
      try {
        const restartMs = [];
        for (let round = 0; round < INGEST_ROUNDS[durability]; round++) {
          restartMs.push(await crashRound(server, load, random, { maxDelayMs: 400 }));
        }
        await load.stop();
        await healthy([server]);
        let checked = await assertExactlyOnce(load, [server], { allOrNothing: true });
        // Once more, with nothing under way: a crash changes nothing of what is there.
        await server.kill9();
        await server.restart();
        checked = await assertExactlyOnce(load, [server], { allOrNothing: true });
        report(`ingestion, ${durability}`, load, INGEST_ROUNDS[durability], t0, restartMs, checked);
      } finally {
        await load.stopNow();
        await server.dispose();
      }
    });
  }
});

// Count computations of the load's events, each a spec of its own (so each PUT starts a
// backfill): all count every Tick, so each user's value is its `n`.
const COUNTS = [
  { name: 'ticks', type: 'count', event_type: 'Tick' },
  { name: 'ticks 30d', type: 'count', event_type: 'Tick', window_days: 30 },
  { name: 'ticks 7d', type: 'count', event_type: 'Tick', window_days: 7 },
  { name: 'ticks 90d', type: 'count', event_type: 'Tick', window_days: 90 },
  { name: 'ticks 60d', type: 'count', event_type: 'Tick', window_days: 60 },
];

// Every user's computed values are its `n` (as read by assertExactlyOnce).
async function assertComputed(server, expected, ids) {
  for (const [user, n] of expected) {
    if (n === 0) continue;
    const d = await server.userData({ user_id: user });
    assert.deepEqual(d.computed_properties, Object.fromEntries(ids.map((id) => [String(id), n])), `${user}: ${n} events applied`);
  }
}

describe('kill -9 at random moments during a backfill', () => {
  it('after the last restart every backfill finishes and every value is exactly the events applied', async () => {
    const random = seededRandom('crash backfill');
    // 10 events a chunk, each chunk a commit of its own. The writer runs a chunk after each
    // commit group, and one every 50 ms when idle; a backfill scans the log to its end (events
    // logged after its cut are skipped, not left out of the scan), so the clients pause up to
    // 40 ms between batches to let it catch up: a backfill then takes a few seconds, several
    // rounds.
    const server = pinPort(await startServer({ projects: [SEED], testing: { backfill_chunk_events: 10, backfill_chunk_delay_ms: 50 } }));
    const load = crashLoad(server, random, 'crash-backfill', { pauseMs: 40 });
    const t0 = Date.now();
    try {
      await load.progressed(400, 'a log to backfill');
      const put = [];
      const putNext = async () => {
        const id = put.length + 1;
        const answer = await server.adminOk('PUT', `/projects/${SEED.id}/computations/${id}`, COUNTS[put.length]);
        assert.equal(answer.status, 'backfilling', JSON.stringify(answer));
        put.push(id);
      };
      await putNext();
      const restartMs = [];
      let killedMidway = 0;
      for (let round = 0; round < BACKFILL_ROUNDS; round++) {
        // The newest computation backfills (a new one is put when it is ready): the kill comes
        // a random moment after its backfill has moved since the start.
        let scanned = -1;
        restartMs.push(await crashRound(server, load, random, {
          maxDelayMs: 600,
          ready: async () => {
            const d = await server.adminOk('GET', `/projects/${SEED.id}/computations/${put.at(-1)}`);
            if (d.status === 'ready') {
              if (put.length === COUNTS.length) return true;
              await putNext();
              return false;
            }
            if (scanned < 0) scanned = d.events_scanned;
            return d.events_scanned > scanned;
          },
        }));
        // Mid-way if, after the restart, it still backfills (it cannot have finished while down).
        const d = await server.adminOk('GET', `/projects/${SEED.id}/computations/${put.at(-1)}`);
        if (d.status === 'backfilling') killedMidway++;
      }
      assert.ok(killedMidway >= BACKFILL_ROUNDS / 2, `${killedMidway} of ${BACKFILL_ROUNDS} kills came during a backfill`);
      await load.stop();
      for (const id of put) await waitReady(server, SEED.id, 'computations', id, { timeoutMs: 120000 });
      const checked = await assertExactlyOnce(load, [server], { allOrNothing: true });
      await assertComputed(server, checked.expected, put);
      report(`backfill (${put.length} computations, ${killedMidway} kills mid-backfill)`, load, BACKFILL_ROUNDS, t0, restartMs, checked);
    } finally {
      await load.stopNow();
      await server.dispose();
    }
  });
});

// A catalogue big enough that training ease takes a while (1-2 s; its cost grows with the
// cube of the smaller of users and items): viewers (1000, or 500 on the slower ASan build)
// who viewed ITEMS items, VIEWS each; the load's events are views too (each of a random item),
// so every training has new data.
const ITEMS = 2500;
const VIEWS = 8;
const sku = (i) => `sku-${i}`;
const REC = {
  title: 'For you',
  model: 'ease',
  item_event: 'View',
  item_property: 'product_id',
  history_window_days: 30,
  candidates: { top_n: 1000 },
  exclude_items: [],
  exclude_seen: true,
  max_items: 5,
  control_percentage: 0,
  control_group_of: null,
  retrain_every_minutes: 0,
  params: { lambda: 10 },
};
const REC_PATH = `/projects/${SEED.id}/recommendations/r1`;

describe('kill -9 at random moments during the training of a recommendation', () => {
  it('the server starts again, serves the old or the new model, trains again to the end; ingestion exactly once', async () => {
    const random = seededRandom('crash training');
    const server = pinPort(await startServer({ projects: [SEED] }));
    let load = null;
    const t0 = Date.now();
    try {
      const viewers = Array.from({ length: server.underAsan() ? 500 : 1000 }, (_, u) => `viewer-${process.pid}-${u}`);
      const views = viewers.flatMap((user, u) => Array.from({ length: VIEWS }, (_, k) => ({
        user_id: user,
        event_type: 'View',
        insert_id: `view-${process.pid}-${u}-${k}`,
        event_properties: { product_id: sku((u * 37 + k * 191) % ITEMS) },
      })));
      for (let i = 0; i < views.length; i += 1000) await server.trackOk(views.slice(i, i + 1000));
      await server.adminOk('PUT', REC_PATH, REC);
      const first = await until(async () => {
        const d = await server.adminOk('GET', REC_PATH);
        return d.training?.status === 'ready' ? d : null;
      }, 'the first training', { timeoutMs: 120000 });
      const trainMs = Math.max(200, first.training.duration_seconds * 1000);

      load = crashLoad(server, random, 'crash-training', {
        pauseMs: 20,
        shape: (e, r) => ({ ...e, event_type: 'View', event_properties: { product_id: sku(Math.floor(r() * ITEMS)) } }),
      });
      // A viewer's recommendations: from the old model or the new one, never none once a model
      // was stored (the restarted server loads it from the store).
      const served = async () => {
        const d = await server.userData({ user_id: viewers[0], get_recs: 'true', rec_id: 'r1' });
        return d.recommendations?.length === 1 && d.recommendations[0].child_ids.length === REC.max_items;
      };
      const restartMs = [];
      let killedTraining = 0;
      for (let round = 0; round < TRAINING_ROUNDS; round++) {
        // A requested training under way; the kill comes a random moment into it, up to 1.5
        // times what the first training took.
        let trainings = -1;
        restartMs.push(await crashRound(server, load, random, {
          maxDelayMs: Math.round(trainMs * 1.5),
          ready: async () => {
            const d = await server.adminOk('GET', REC_PATH);
            if (d.training.status === 'training') {
              trainings = d.training.trainings;
              return true;
            }
            if (d.training.status === 'ready' && d.training.trainings !== trainings) {
              const post = await server.admin('POST', `${REC_PATH}/train`);
              assert.equal(post.status, 202, post.text);
              trainings = d.training.trainings; // asked once per training done
            }
            return false;
          },
        }));
        // The restarted server serves the stored model at once (the old one, or the new one if
        // the kill came after it was stored), and takes up the request the kill left
        // unanswered by itself: it trains to the end.
        await healthy([server]);
        await until(served, 'a model served after the restart', { timeoutMs: 30000 });
        const after = await server.adminOk('GET', REC_PATH);
        if (after.training.trainings === trainings) killedTraining++; // cut short before it was stored
        await until(async () => {
          const d = await server.adminOk('GET', REC_PATH);
          return d.training.status === 'ready' && d.training.trainings > trainings;
        }, 'the requested training to end after the restart', { timeoutMs: 120000 });
      }
      await load.stop();
      // Training again, to the end, with the server up.
      const before = (await server.adminOk('GET', REC_PATH)).training.trainings;
      const post = await server.admin('POST', `${REC_PATH}/train`);
      assert.ok(post.status === 202, post.text);
      const last = await until(async () => {
        const d = await server.adminOk('GET', REC_PATH);
        return d.training.status === 'ready' && d.training.trainings > before ? d : null;
      }, 'a training to the end', { timeoutMs: 120000 });
      assert.equal(last.training.model, 'ease');
      assert.ok(await served(), 'the new model is served');
      const checked = await assertExactlyOnce(load, [server], { allOrNothing: true });
      report(`training (first ${trainMs} ms, ${killedTraining} kills during a training, ${last.training.trainings} trainings done)`, load, TRAINING_ROUNDS, t0, restartMs, checked);
      console.log(`the last training: ${JSON.stringify(last.training)}; errors logged: ${JSON.stringify(errorLines(server))}`);
    } finally {
      await load?.stopNow();
      await server.dispose();
    }
  });
});
