// Definitions loaded from the config file (a project's `definitions` = a JSON file
// {"computations":[...],"cohorts":[...]}, issue 6 "Definitions"): served from the start, kept
// across restarts, and a bad file stops the server with exit code 2 and a line naming it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { configToml, describe, it, makeTempDir, runBinary, startServer, uid } from './harness.js';
import { cohort, daysAgo, eventCond, makeProjects, sdkClient, sdkTrack, waitReady } from './compute-helpers.js';

const [P] = makeProjects('deffile', 1, 'seed');

function writeJson(dir, name, value) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

const DEFINITIONS = {
  computations: [
    { id: 1, name: 'purchases 30d', type: 'count', event_type: 'Purchase', window_days: 30 },
    { id: 2, name: 'spent', type: 'sum', event_type: 'Purchase', property: '$revenue' },
  ],
  cohorts: [
    { id: 'buyers', ...cohort('buyers', eventCond('Purchase', '>=', 2)) },
    { id: 'big', ...cohort('big', { type: 'cohort', type_value: 'buyers' }, { type: 'computed_property', prop: 2, op: 'greater', values: [10] }) },
  ],
};

describe('definitions from the config file', () => {
  it('are served from the start and survive a restart', async () => {
    const dir = makeTempDir();
    const file = writeJson(dir, 'defs.json', DEFINITIONS);
    const s = await startServer({ projects: [{ ...P, definitions: file }] });
    try {
      for (const id of [1, 2]) await waitReady(s, P.id, 'computations', id);
      for (const id of ['buyers', 'big']) await waitReady(s, P.id, 'cohorts', id);
      const got = await s.adminOk('GET', `/projects/${P.id}/computations/1`);
      assert.equal(got.name, 'purchases 30d');
      const c = await sdkClient(s, P.api_key);
      const user = uid('deffile');
      await sdkTrack(c, [
        ['Purchase', {}, { user_id: user, time: daysAgo(1), revenue: 6 }],
        ['Purchase', {}, { user_id: user, time: daysAgo(40), revenue: 6 }],
      ]);
      const read = async () => {
        const d = await s.userData({ user_id: user }, { secret: P.secret_key });
        return [d.computed_properties, [...d.cohort_ids].sort()];
      };
      assert.deepEqual(await read(), [{ 1: 1, 2: 12 }, []]);
      await sdkTrack(c, [['Purchase', {}, { user_id: user, time: daysAgo(2), revenue: 1 }]]);
      assert.deepEqual(await read(), [{ 1: 2, 2: 13 }, ['big', 'buyers']]);
      // The file is applied again on every start: a definition changed over the admin API
      // since is put back to the file's version.
      await s.adminOk('PUT', `/projects/${P.id}/computations/1`, { name: 'renamed', type: 'count', event_type: 'Purchase', window_days: 30 });
      await s.stop();
      await s.restart();
      assert.deepEqual(await read(), [{ 1: 2, 2: 13 }, ['big', 'buyers']]);
      assert.equal((await waitReady(s, P.id, 'computations', 1)).name, 'purchases 30d');
    } finally {
      await s.dispose();
    }
  });

  it('a bad definitions file stops the server with exit code 2 and a line naming the file and the field', async () => {
    const dir = makeTempDir();
    const cases = [
      ['a definition that breaks a rule', { computations: [{ id: 1, name: 'x', type: 'median', event_type: 'E' }] }, /computations\[0\].*type/],
      ['an unknown key', { computations: [], widgets: [] }, /unknown key widgets/],
      ['no id', { cohorts: [{ ...cohort('x', eventCond('E', '>=', 1)) }] }, /cohorts\[0\].*id is required/],
      ['an unknown reference', { cohorts: [{ id: 'x', ...cohort('x', { type: 'cohort', type_value: 'ghost' }) }] }, /cohorts\[0\].*ghost/],
      ['not JSON', '{"computations": [', /expected a JSON object/],
      ['not an array', { computations: {} }, /computations must be an array/],
    ];
    for (const [what, content, message] of cases) {
      const file = writeJson(dir, `${uid('bad')}.json`, content);
      const dataDir = path.join(dir, uid('data'));
      const configPath = path.join(dir, `${uid('cfg')}.toml`);
      fs.writeFileSync(configPath, configToml({ dataDir, projects: [{ ...P, definitions: file }] }));
      const r = runBinary(['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
      assert.equal(r.code, 2, `${what}: exit ${r.code} ${r.signal}\n${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.ok(r.stderr.includes(file), `${what}: the message names the file\n${r.stderr}`);
    }
    // A file that does not exist.
    const dataDir = path.join(dir, 'missing-data');
    const configPath = path.join(dir, 'missing.toml');
    const missing = path.join(dir, 'does-not-exist.json');
    fs.writeFileSync(configPath, configToml({ dataDir, projects: [{ ...P, definitions: missing }] }));
    const r = runBinary(['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(missing), r.stderr);
  });
});
