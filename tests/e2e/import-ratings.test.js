// `profiled import-ratings`: a generated MovieLens-shaped ratings file loaded into a running
// server through /batch, checked through computations over the imported events (counts, the
// time shift, de-duplication of a second import), and the command's refusals: bad flags and
// files exit 2 (--ca-file for a config without TLS among them), a server that refuses a batch
// or cannot be reached exits 1. Over HTTPS: recs-train-cli.test.js.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, runBinaryAsync, after, before, describe, it, makeTempDir, runBinary, sleep, startServer } from './harness.js';

const SHIFTED = { id: 'imp1', api_key: 'imp1-api-key', secret_key: 'imp1-secret-key', profile_dialect: 'seed' };
const ORIGINAL = { id: 'imp2', api_key: 'imp2-api-key', secret_key: 'imp2-secret-key', profile_dialect: 'seed' };

// 50 users rate each of 60 movies with probability 0.8, 3 to 5 stars, within 200 days of
// 2017-07-14 (timestamp 1500000000), in a shuffled order. A linear congruential generator
// makes it the same file every run. About 2400 ratings, 1600 of them 4 or more: two batches.
function ratings() {
  let state = 4242;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const rows = [];
  for (let u = 1; u <= 50; u++) {
    for (let m = 1; m <= 60; m++) {
      if (next() < 0.8) rows.push([u, 1000 + m, [3, 4, 4.5, 5][Math.floor(next() * 4)], 1500000000 + Math.floor(next() * 200 * 86400)]);
    }
  }
  return rows;
}

function writeCsv(dir, rows, name = 'ratings.csv') {
  const file = path.join(dir, name);
  fs.writeFileSync(file, 'userId,movieId,rating,timestamp\n' + rows.map((r) => r.join(',')).join('\n') + '\n');
  return file;
}

const run = (args) => runBinaryAsync(args);

// Per user: how many ratings are at or above `min`, and of how many distinct movies.
function expected(rows, min) {
  const out = new Map();
  for (const [u, m, r] of rows) {
    if (r < min) continue;
    const e = out.get(u) || { count: 0, movies: new Set() };
    e.count++;
    e.movies.add(m);
    out.set(u, e);
  }
  return out;
}

async function defineCounts(server, project, eventType) {
  const defs = {
    1: { type: 'count', event_type: eventType },
    2: { type: 'count', event_type: eventType, window_days: 365 },
    3: { type: 'distinct_count', event_type: eventType, property: 'movie_id' },
  };
  for (const [id, def] of Object.entries(defs)) {
    await server.adminOk('PUT', `/projects/${project.id}/computations/${id}`, { name: `c${id}`, ...def });
  }
  // Nothing to backfill in a fresh project, but wait for "ready" rather than assume it.
  for (let i = 0; i < 500; i++) {
    const list = await server.adminOk('GET', `/projects/${project.id}/computations`);
    if (list.computations.every((c) => c.status === 'ready')) return;
    await sleep(20);
  }
  throw new Error('computations did not become ready');
}

async function computed(server, project, user) {
  const data = await server.userData({ user_id: user }, { secret: project.secret_key });
  return data.computed_properties;
}

describe('profiled import-ratings', () => {
  let server;
  let dir;
  let rows;
  let csv;
  before(async () => {
    server = await startServer({ projects: [SHIFTED, ORIGINAL] });
    dir = makeTempDir('profiled-e2e-import-');
    rows = ratings();
    csv = writeCsv(dir, rows);
  });
  after(async () => {
    if (server) await server.dispose();
  });

  // The command line of an import into `project`: the test's defaults, with `overrides` set
  // (a null value drops the flag).
  const importArgs = (project, overrides = {}) => {
    const flags = {
      '--config': server.configPath,
      '--project': project.id,
      '--ratings': csv,
      '--format': 'movielens-csv',
      '--server': `127.0.0.1:${server.port}`,
      ...overrides,
    };
    const args = ['import-ratings'];
    for (const [flag, value] of Object.entries(flags)) if (value !== null) args.push(flag, value);
    return args;
  };

  it('sends the positive ratings as events with the newest one moved to now', async () => {
    await defineCounts(server, SHIFTED, 'Movie Rated');
    const result = await run(importArgs(SHIFTED));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    const want = expected(rows, 4);
    const total = [...want.values()].reduce((s, e) => s + e.count, 0);
    assert.ok(total > 1000, `${total} events: more than one batch`);
    assert.match(result.stderr, new RegExp(`${total}/${total} events sent`));
    assert.match(result.stderr, new RegExp(`${total} events \\(ratings >= 4 of ${rows.length}\\) sent to project imp1`));
    for (const user of [1, 2, 17, 50]) {
      const e = want.get(user);
      // Shifted, the ratings span the last 200 days: every one is inside the 365-day window.
      assert.deepEqual(await computed(server, SHIFTED, `user-${user}`), { 1: e.count, 2: e.count, 3: e.movies.size }, `user-${user}`);
    }
  });

  it('changes nothing when the same file is imported again (insert_id)', async () => {
    const result = await run(importArgs(SHIFTED));
    assert.equal(result.code, 0, result.stderr);
    const e = expected(rows, 4).get(3);
    assert.deepEqual(await computed(server, SHIFTED, 'user-3'), { 1: e.count, 2: e.count, 3: e.movies.size });
  });

  it('keeps the original times, every rating with --min-rating 0, and the event type asked for', async () => {
    await defineCounts(server, ORIGINAL, 'Film Rated');
    const result = await run(importArgs(ORIGINAL, { '--time': 'original', '--min-rating': '0', '--event-type': 'Film Rated' }));
    assert.equal(result.code, 0, result.stderr);
    const want = expected(rows, 0);
    for (const user of [1, 50]) {
      const e = want.get(user);
      // Original, the ratings are from 2017: outside the 365-day window.
      assert.deepEqual(await computed(server, ORIGINAL, `user-${user}`), { 1: e.count, 2: 0, 3: e.movies.size }, `user-${user}`);
    }
  });

  it('exits 1 naming the answer when the server refuses a batch', async () => {
    const config = fs.readFileSync(server.configPath, 'utf8').replace('imp1-api-key', 'not-the-key');
    const wrong = path.join(dir, 'wrong-key.toml');
    fs.writeFileSync(wrong, config);
    const result = await run(importArgs(SHIFTED, { '--config': wrong }));
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /refused events 1-1000 of \d+: HTTP 400 .*Invalid API key: not-the-key/);
  });

  it('exits 1 when no server answers', async () => {
    const stopped = await startServer({ projects: [SHIFTED] });
    const port = stopped.port;
    await stopped.dispose();
    const result = await run(importArgs(SHIFTED, { '--server': `127.0.0.1:${port}` }));
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`cannot send to the server: 127\\.0\\.0\\.1:${port}: `));
  });

  it('exits 2 for bad flags and files, before sending anything', async () => {
    const bad = writeCsv(dir, [[1, 2, 4, 5], [1, 3, 'x', 5]], 'bad.csv');
    const cases = [
      [{ '--format': 'xml' }, /--format: unknown ratings format "xml"/],
      [{ '--time': 'later' }, /--time must be shifted or original, not "later"/],
      [{ '--min-rating': '-1' }, /--min-rating must be a number, 0 or more/],
      [{ '--min-rating': '6' }, /no rating is at or above --min-rating/],
      [{ '--project': 'nope' }, /--project: no project "nope"/],
      [{ '--ratings': path.join(dir, 'missing.csv') }, /cannot read .*missing\.csv/],
      [{ '--ratings': bad }, /bad\.csv: line 3: bad rating/],
      [{ '--config': path.join(dir, 'missing.toml') }, /config: cannot read file/],
      [{ '--server': 'nowhere' }, /--server.*expected HOST:PORT/],
      // HTTPS is the config's (server.tls_cert): this one has none (recs-train-cli.test.js
      // imports over HTTPS).
      [{ '--ca-file': csv }, /--ca-file is for a server with TLS on/],
      // The config's own listen address is port 0 (any free port): no client can reach it.
      [{ '--server': null }, /give --server HOST:PORT/],
      // A missing required flag is CLI11's error, exit 2 too.
      [{ '--ratings': null }, /--ratings is required/],
      [{ '--format': null }, /--format is required/],
    ];
    for (const [overrides, pattern] of cases) {
      const result = await run(importArgs(SHIFTED, overrides));
      assert.equal(result.code, 2, `${JSON.stringify(overrides)}: ${result.stderr}`);
      assert.match(result.stderr, pattern, JSON.stringify(overrides));
    }
    // Nothing of these reached the server.
    const e = expected(rows, 4).get(3);
    assert.deepEqual(await computed(server, SHIFTED, 'user-3'), { 1: e.count, 2: e.count, 3: e.movies.size });
  });

  it('--help names every flag', () => {
    const result = runBinary(['import-ratings', '--help']);
    assert.equal(result.code, 0);
    for (const flag of ['--config', '--project', '--ratings', '--format', '--min-rating', '--event-type', '--time', '--server', '--ca-file']) {
      assert.ok(result.stdout.includes(flag), flag);
    }
  });
});
