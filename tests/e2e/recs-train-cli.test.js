// `profiled train` (docs/RECS.md, "Training in the server") and `import-ratings` together, as a
// user would run them against a running server: ratings loaded as events, a recommendation
// defined over them, trained from the command line, then served. Also its refusals: an unknown
// recommendation or project exits 2, a server that cannot be reached exits 1.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, describe, it, makeTempDir, sharedServer } from './harness.js';
import { putReady } from './compute-helpers.js';

const P = { id: 'trainp', api_key: 'trainp-api-key', secret_key: 'trainp-secret-key', profile_dialect: 'seed' };

function run(args) {
  return new Promise((resolve) => {
    const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

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
