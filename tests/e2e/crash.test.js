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
import { assertExactlyOnce, healthy, pinPort, seededRandom, startLoad, until } from './faults.js';

const SCALE = Math.max(1, Number(process.env.PROFILED_CRASH_ROUNDS ?? 1));
const INGEST_ROUNDS = { fsync: 40 * SCALE, buffered: 25 * SCALE };
const BACKFILL_ROUNDS = 8 * SCALE;
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
