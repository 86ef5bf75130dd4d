// The command line and the config file (CONTRACT §1, §2): --help, the demo project, and
// bad configs exiting 2 with one line that names the offending key.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { configToml, describe, it, makeTempDir, runBinary, SEED, startServer, uid } from './harness.js';

// Writes `text` as a config in a fresh dir and runs `serve` (or `command`) on it; the server
// must not start. `files` are written beside the config first ({name: text}).
function serveWith(text, { command = 'serve', files = {} } = {}) {
  const dir = makeTempDir('profiled-e2e-config-');
  const file = path.join(dir, 'bad.toml');
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  fs.writeFileSync(file, text.replaceAll('{{DATA}}', path.join(dir, 'data')).replaceAll('{{DIR}}', dir));
  try {
    return runBinary([command, '--config', file, '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const good = (overrides = {}) => configToml({ dataDir: '{{DATA}}', projects: [SEED], ...overrides });

// Asserts exit 2 and exactly one non-empty stderr line that mentions `key`.
function expectConfigError(result, key) {
  assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line expected, got:\n${result.stderr}`);
  assert.ok(lines[0].includes(key), `"${lines[0]}" should name ${key}`);
}

describe('command line', () => {
  it('--help lists the serve command; serve --help lists its flags; both exit 0', () => {
    const top = runBinary(['--help']);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /\bserve\b/);
    const serve = runBinary(['serve', '--help']);
    assert.equal(serve.code, 0, serve.stderr);
    for (const flag of ['--config', '--listen', '--data-dir', '--help']) {
      assert.ok(serve.stdout.includes(flag), `serve --help should list ${flag}:\n${serve.stdout}`);
    }
  });

  it('an unknown command or flag exits non-zero', () => {
    assert.notEqual(runBinary(['frobnicate']).code, 0);
    assert.notEqual(runBinary(['serve', '--no-such-flag']).code, 0);
  });

  it('without --config it serves the demo project with the documented keys', async () => {
    const dir = makeTempDir();
    const server = await startServer({ args: ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')] });
    try {
      const user = uid('demo');
      await server.trackOk([{ user_id: user, event_type: 'x', user_properties: { demo: true } }], { apiKey: 'demo-api-key' });
      const d = await server.userData({ user_id: user }, { secret: 'demo-secret-key' });
      assert.deepEqual(d.user_properties, { demo: true });
      assert.equal((await server.profile({ user_id: user }, { secret: 'seed-secret-key' })).status, 401);
      assert.equal((await server.stop()).code, 0);
    } finally {
      await server.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/healthz answers 200 while serving', async () => {
    const server = await startServer();
    try {
      const res = await server.request('GET', '/healthz');
      assert.equal(res.status, 200);
    } finally {
      await server.dispose();
    }
  });
});

describe('bad configs exit 2 with one line naming the key', () => {
  it('the generated config used by these tests is valid', async () => {
    // Guards the cases below: each differs from a config that starts.
    const server = await startServer({ config: good() });
    await server.dispose();
  });

  it('an unknown key in a section', () => {
    expectConfigError(serveWith(good().replace('[server]\n', '[server]\nbogus_setting = 1\n')), 'server.bogus_setting');
  });

  it('an unknown top-level key', () => {
    expectConfigError(serveWith(`frobnicate = true\n${good()}`), 'frobnicate');
  });

  it('a bad storage.durability value', () => {
    expectConfigError(serveWith(good({ durability: 'sometimes' })), 'storage.durability');
  });

  it('a duplicate api_key across projects', () => {
    const text = configToml({
      dataDir: '{{DATA}}',
      projects: [SEED, { id: 'other', api_key: SEED.api_key, secret_key: 'other-secret' }],
    });
    expectConfigError(serveWith(text), 'api_key');
  });

  it('a duplicate secret_key across projects', () => {
    const text = configToml({
      dataDir: '{{DATA}}',
      projects: [SEED, { id: 'other', api_key: 'other-api', secret_key: SEED.secret_key }],
    });
    expectConfigError(serveWith(text), 'secret_key');
  });

  it("one project's secret_key reused as another's api_key", () => {
    const text = configToml({
      dataDir: '{{DATA}}',
      projects: [SEED, { id: 'other', api_key: SEED.secret_key, secret_key: 'other-secret' }],
    });
    expectConfigError(serveWith(text), 'api_key');
  });

  it('a bad profile_dialect', () => {
    const text = configToml({ dataDir: '{{DATA}}', projects: [{ ...SEED, profile_dialect: 'klingon' }] });
    expectConfigError(serveWith(text), 'profile_dialect');
  });

  it('a negative or mistyped privacy.staging_minutes', () => {
    expectConfigError(serveWith(configToml({ dataDir: '{{DATA}}', privacy: { staging_minutes: -5 } })), 'privacy.staging_minutes');
    expectConfigError(serveWith(configToml({ dataDir: '{{DATA}}', privacy: { staging_minutes: '1h' } })), 'privacy.staging_minutes');
  });

  it('a malformed [console] interval, at serve and check-config alike', () => {
    const bad = [
      [{ rate_sample_seconds: 0 }, 'config: console.rate_sample_seconds: must be between 1 and 3600, got 0'],
      [{ rate_sample_seconds: 3601 }, 'config: console.rate_sample_seconds: must be between 1 and 3600, got 3601'],
      [{ rate_sample_seconds: '10s' }, 'config: console.rate_sample_seconds: expected an integer'],
      [{ rate_sample_seconds: 2.5 }, 'config: console.rate_sample_seconds: expected an integer'],
      [{ cohort_sample_seconds: -1 }, 'config: console.cohort_sample_seconds: must be between 0 and 86400, got -1'],
      [{ cohort_sample_seconds: 86401 }, 'config: console.cohort_sample_seconds: must be between 0 and 86400, got 86401'],
      [{ cohort_sample_seconds: true }, 'config: console.cohort_sample_seconds: expected an integer'],
      [{ sample_seconds: 5 }, 'config: console.sample_seconds: unknown key'],
    ];
    for (const [keys, message] of bad) {
      const text = good({ console: keys });
      for (const command of ['serve', 'check-config']) {
        const r = serveWith(text, { command });
        expectConfigError(r, 'console.');
        assert.equal(r.stderr.trim(), message, `${command} ${JSON.stringify(keys)}`);
      }
    }
    const ok = serveWith(good({ console: { rate_sample_seconds: 1, cohort_sample_seconds: 0 } }), { command: 'check-config' });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a wrong type', () => {
    expectConfigError(serveWith(good().replace(/threads = \d+/, 'threads = "many"')), 'server.threads');
  });

  it('a project without a secret_key', () => {
    const text = good().replace(/secret_key = .*\n/, '');
    expectConfigError(serveWith(text), 'secret_key');
  });

  it('a TOML syntax error', () => {
    const r = serveWith(`${good()}\n[server\n`);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.split('\n').filter((l) => l.trim()).length, 1, r.stderr);
  });

  it('a bad --listen override', () => {
    const dir = makeTempDir('profiled-e2e-config-');
    try {
      const file = path.join(dir, 'c.toml');
      fs.writeFileSync(file, configToml({ dataDir: path.join(dir, 'data'), projects: [SEED] }));
      const r = runBinary(['serve', '--config', file, '--listen', 'localhost-no-port']);
      expectConfigError(r, '--listen');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('profiled check-config', () => {
  it('a good config: exit 0, one line saying what it configures, nothing started or created', () => {
    const dir = makeTempDir('profiled-e2e-config-');
    try {
      const file = path.join(dir, 'good.toml');
      fs.writeFileSync(file, configToml({ dataDir: path.join(dir, 'data'), projects: [SEED] }));
      const r = runBinary(['check-config', '--config', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${file}: ok: listen http://127\\.0\\.0\\.1:\\d+, storage rocksdb \\(${path.join(dir, 'data')}\\), 1 project\\(s\\): ${SEED.id}\\n$`));
      assert.equal(fs.existsSync(path.join(dir, 'data')), false, 'check-config must not open the store');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad key: exit 2 with the same one line serve prints', () => {
    const text = good().replace('[server]\n', '[server]\nbogus_setting = 1\n');
    const checked = serveWith(text, { command: 'check-config' });
    expectConfigError(checked, 'server.bogus_setting');
    assert.equal(checked.stderr, serveWith(text).stderr);
  });

  it("a project's definitions file that does not parse: exit 2 naming the project", () => {
    const text = good({ projects: [{ ...SEED, definitions: '{{DIR}}/defs.json' }] });
    const r = serveWith(text, { command: 'check-config', files: { 'defs.json': '{"computations": [' } });
    expectConfigError(r, SEED.id);
  });

  it('a missing --config: exit 2 (the flag is required)', () => {
    const r = runBinary(['check-config']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--config/);
  });
});

describe('server.log_format', () => {
  it('"json": every log line is one JSON object with time, level and msg', async () => {
    const server = await startServer({ config: good({ server: { log_format: 'json' } }) });
    try {
      // A reload logs a line of its own; a message with a newline and quotes stays one line.
      server.signal('SIGHUP');
      const deadline = Date.now() + 10000;
      while (!server.stderr.includes('reload') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await server.dispose();
    }
    const lines = server.stderr.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 3, `expected start-up, reload and shutdown lines, got:\n${server.stderr}`);
    assert.ok(lines.some((l) => JSON.parse(l).msg.includes('reload')), server.stderr);
    for (const line of lines) {
      const o = JSON.parse(line);
      assert.deepEqual(Object.keys(o), ['time', 'level', 'msg'], line);
      assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), line);
      assert.equal(typeof o.msg, 'string');
    }
  });

  it('a bad value exits 2 naming server.log_format', () => {
    expectConfigError(serveWith(good().replace('[server]\n', '[server]\nlog_format = "xml"\n')), 'server.log_format');
  });
});

describe('the example config in CONTRACT §2', () => {
  it('starts as written (admin_token placed after [storage])', async () => {
    // Copied from CONTRACT.md §2 with only path and keys filled in. In TOML the bare
    // admin_token line after [storage] belongs to the [storage] table.
    const text = `[server]
listen  = "127.0.0.1:8080"
threads = 0                 # 0 = one per core

[storage]
backend    = "rocksdb"      # the embedded default, or "redis-cluster" (part 4)
path       = "{{DATA}}"
durability = "fsync"        # a 2xx from ingestion means the events are in the fsynced log
# with backend = "redis-cluster":
# redis_nodes = ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]  # seeds; the rest is discovered
# redis_password = ""       # AUTH when set
# redis_wait_replicas = 1   # a 2xx waits until this many replicas hold the write; 0 = primary only

admin_token = "change-me"   # Authorization: Bearer <admin_token> on /admin/v1

[[projects]]
id              = "demo"
api_key         = "contract-api-key"     # ingestion: body/form field api_key
secret_key      = "contract-secret-key"  # Profile API: Authorization: Api-Key <secret_key>
profile_dialect = "seed"    # "seed" (default) or "amplitude"
`;
    const server = await startServer({ config: text });
    try {
      const user = uid('contract');
      await server.trackOk([{ user_id: user, event_type: 'x', user_properties: { ok: 1 } }], { apiKey: 'contract-api-key' });
      assert.deepEqual((await server.userData({ user_id: user }, { secret: 'contract-secret-key' })).user_properties, { ok: 1 });
    } finally {
      await server.dispose();
    }
  });
});
