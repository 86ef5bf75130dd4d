// `profiled train` (docs/RECS.md, "Training in the server") and `import-ratings` together, as a
// user would run them against a running server: ratings loaded as events, a recommendation
// defined over them, trained from the command line, then served. Also its refusals: an unknown
// recommendation or project exits 2, a server that cannot be reached exits 1. And both over
// HTTPS, against a server whose config has TLS on: the certificate verified against --ca-file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, runBinaryAsync, configToml, describe, it, makeTempDir, request, sharedServer, startServer } from './harness.js';
import { putReady } from './compute-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const P = { id: 'trainp', api_key: 'trainp-api-key', secret_key: 'trainp-secret-key', profile_dialect: 'seed' };

const run = (args) => runBinaryAsync(args);

// Two taste groups: users 1-20 like movies 1-10, users 21-40 like movies 11-20; each user
// rates 6 of the group's movies 5 stars and one movie of the other group 2 stars.
function ratingsCsv(dir) {
  const rows = [];
  for (let u = 1; u <= 40; u++) {
    const base = u <= 20 ? 1 : 11;
    const other = u <= 20 ? 11 : 1;
    for (let k = 0; k < 6; k++) rows.push([u, base + ((u + k) % 10), 5, 1500000000 + u * 100 + k]);
    rows.push([u, other + (u % 10), 2, 1500000000 + u * 100 + 9]);
  }
  const file = path.join(dir, 'ratings.csv');
  fs.writeFileSync(file, 'userId,movieId,rating,timestamp\n' + rows.map((r) => r.join(',')).join('\n') + '\n');
  return file;
}

// A test CA and a certificate for 127.0.0.1 it signed (make-test-ca.sh), made in a new dir.
function makeCa() {
  const dir = makeTempDir('profiled-e2e-ca-');
  const made = spawnSync(path.join(here, 'make-test-ca.sh'), [dir], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

describe('profiled train', () => {
  const s = sharedServer({ projects: [P] });

  it('trains a recommendation over imported ratings and reports it', async () => {
    const server = s.server;
    const addr = `127.0.0.1:${server.port}`;
    const dir = makeTempDir();
    const imported = await run(['import-ratings', '--config', server.configPath, '--server', addr, '--project', P.id,
      '--ratings', ratingsCsv(dir), '--format', 'movielens-csv']);
    assert.equal(imported.code, 0, imported.stderr);
    await putReady(server, P.id, 'recommendations', 'movies', {
      model: 'ease', item_event: 'Movie Rated', item_property: 'movie_id', history_window_days: 365,
      retrain_every_minutes: 0, params: { lambda: 5 },
    });
    const trained = await run(['train', '--config', server.configPath, '--server', addr, '--project', P.id, '--rec', 'movies']);
    assert.equal(trained.code, 0, trained.stderr);
    const out = JSON.parse(trained.stdout.trim());
    assert.equal(out.status, 'ready');
    assert.equal(out.model, 'ease');
    assert.equal(out.users, 40);
    assert.equal(out.items, 20); // only the 4- and 5-star ratings were imported
    assert.ok(out.trainings >= 1);
    assert.match(trained.stderr, /trained 100%/); // not a terminal: a line per step

    // A second run trains again (one more training than before it).
    const again = await run(['train', '--config', server.configPath, '--server', addr, '--project', P.id, '--rec', 'movies']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout.trim()).trainings, out.trainings + 1);

    // Served: user-1 (group 1) is recommended group 1's movies it has not rated.
    const data = await server.userData({ user_id: 'user-1', get_recs: 'true', limit: '3' }, { secret: P.secret_key });
    const ids = data.recommendations[0].child_ids;
    assert.equal(ids.length, 3);
    for (const id of ids) assert.ok(Number(id) >= 1 && Number(id) <= 10, `${ids}`);
  });

  it('imports and trains over HTTPS when the config has TLS, verified against --ca-file', async () => {
    const tls = makeCa();
    const other = makeCa(); // a CA that did not sign the server's certificate
    const server = await startServer({ config: configToml({ dataDir: '{{DATA}}', projects: [P], tls }) });
    try {
      assert.match(server.base, /^https:\/\/127\.0\.0\.1:/);
      const dir = makeTempDir();
      const common = ['--config', server.configPath, '--server', `127.0.0.1:${server.port}`, '--project', P.id];
      const importArgs = ['import-ratings', ...common, '--ratings', ratingsCsv(dir), '--format', 'movielens-csv'];
      const trainArgs = ['train', ...common, '--rec', 'movies'];

      // An untrusted certificate (the system's CAs, or another CA): exit 1 at the first try,
      // saying TLS, nothing sent.
      for (const args of [importArgs, trainArgs]) {
        for (const ca of [[], ['--ca-file', other.ca]]) {
          const r = await run([...args, ...ca]);
          assert.equal(r.code, 1, `${args[0]} ${ca.join(' ')}: ${r.stderr}`);
          assert.match(r.stderr, /127\.0\.0\.1:\d+: TLS: certificate verify failed/, `${args[0]} ${ca.join(' ')}`);
          assert.doesNotMatch(r.stderr, /events sent|backfilling|queued|training/, `${args[0]} ${ca.join(' ')}`);
        }
      }

      const imported = await run([...importArgs, '--ca-file', tls.ca]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stderr, /240 events \(ratings >= 4 of 280\) sent to project trainp/);
      // The server's admin API, over HTTPS too (Node verifies against the same CA); train waits
      // out the history's backfill (409) by itself.
      const put = await request(`${server.base}/admin/v1/projects/${P.id}/recommendations/movies`, {
        method: 'PUT', ca: fs.readFileSync(tls.ca), headers: { Authorization: 'Bearer e2e-admin-token' },
        json: { model: 'ease', item_event: 'Movie Rated', item_property: 'movie_id', history_window_days: 365,
          retrain_every_minutes: 0, params: { lambda: 5 } } });
      assert.equal(put.status, 200, put.text);
      const trained = await run([...trainArgs, '--ca-file', tls.ca]);
      assert.equal(trained.code, 0, trained.stderr);
      const out = JSON.parse(trained.stdout.trim());
      assert.equal(out.status, 'ready');
      assert.equal(out.users, 40); // every imported event arrived
      assert.equal(out.items, 20);
    } finally {
      await server.dispose();
    }
  });

  it('refuses --ca-file when the config has no TLS (exit 2, naming the flag)', async () => {
    const server = s.server;
    const { ca } = makeCa();
    const common = ['--config', server.configPath, '--server', `127.0.0.1:${server.port}`, '--project', P.id, '--ca-file', ca];
    for (const args of [['import-ratings', ...common, '--ratings', ca, '--format', 'movielens-csv'],
      ['train', ...common, '--rec', 'movies']]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /--ca-file is for a server with TLS on \(server\.tls_cert in .*\), and this config has none/, args[0]);
    }
  });

  it('exits 2 for an unknown recommendation or project, 1 when no server answers', async () => {
    const server = s.server;
    const addr = `127.0.0.1:${server.port}`;
    const unknownRec = await run(['train', '--config', server.configPath, '--server', addr, '--project', P.id, '--rec', 'nope']);
    assert.equal(unknownRec.code, 2);
    assert.match(unknownRec.stderr, /no recommendation "nope"/);
    const unknownProject = await run(['train', '--config', server.configPath, '--server', addr, '--project', 'nope', '--rec', 'movies']);
    assert.equal(unknownProject.code, 2);
    assert.match(unknownProject.stderr, /no project "nope"/);
    const missing = await run(['train', '--config', server.configPath, '--project', P.id]);
    assert.equal(missing.code, 2);
    // A port nothing listens on: the server's own port + 1 is free often enough, so use a
    // port from the reserved range instead.
    const down = await run(['train', '--config', server.configPath, '--server', '127.0.0.1:1', '--project', P.id, '--rec', 'movies']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /127\.0\.0\.1:1/);
  });
});
