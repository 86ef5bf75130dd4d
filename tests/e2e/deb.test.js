// The Debian package (issue 10 item 6, `make deb`): scripts/make-deb.sh builds it from the
// binary under test; this file checks its control fields and contents, then, as root on a
// machine where no profiled package is installed, installs it for real with dpkg: the profiled
// user, a config with fresh keys readable by that user alone, the data dir, the systemd unit
// (checked with systemd-analyze verify), the server run as the profiled user from that config,
// an upgrade that keeps the config, a purge that removes the config but keeps the data and the user, and
// a reinstall that serves the kept data.
// systemd itself does not run here (no PID 1 systemd in this sandbox), so the postinst's
// `systemctl enable --now` branch is not exercised; the unit is verified, not started.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, describe, it, makeTempDir, request, after } from './harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// Why the install part cannot run here, or null.
function cannotInstall() {
  if (process.getuid() !== 0) return 'dpkg -i needs root';
  if (run('dpkg-query', ['-W', '-f=${Status}', 'profiled']).stdout.includes('installed')) {
    return 'a profiled package is already installed on this machine; the test will not replace it';
  }
  if (fs.existsSync('/var/lib/profiled') || fs.existsSync('/etc/profiled')) {
    return '/var/lib/profiled or /etc/profiled exists (an earlier install); the test will not touch it';
  }
  return null;
}

// Starts `profiled serve` as the profiled user from the installed config on a free port;
// resolves to {proc, base} once it listens.
function serveAsProfiledUser(uid, gid) {
  const proc = spawn('/usr/bin/profiled', ['serve', '--config', '/etc/profiled/profiled.toml', '--listen', '127.0.0.1:0'], {
    uid,
    gid,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" within 20 s:\n${log}`)), 20000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c) => {
      log += c;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: `http://127.0.0.1:${m[1]}`, log: () => log });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`profiled exited ${code} before listening:\n${log}`));
    });
  });
}

const keyOf = (config, name) => new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm').exec(config)?.[1];

describe('the Debian package', () => {
  const dir = makeTempDir('profiled-e2e-deb-');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const built = run(path.join(root, 'scripts/make-deb.sh'), [BIN, dir]);
  const deb = built.stdout.trim();

  it('make-deb.sh builds a package with the binary, the unit, the config template and its Depends', () => {
    assert.equal(built.code, 0, built.stderr);
    assert.match(path.basename(deb), /^profiled_0\.1\.0\+git\d+_[a-z0-9]+\.deb$/);
    const field = (f) => run('dpkg-deb', ['-f', deb, f]).stdout.trim();
    assert.equal(field('Package'), 'profiled');
    const depends = field('Depends');
    for (const lib of ['libc6', 'libstdc++6', 'libboost-json1.81.0', 'libhiredis0.14', 'passwd']) {
      assert.ok(depends.includes(lib), `Depends should name ${lib}: ${depends}`);
    }
    const contents = run('dpkg-deb', ['-c', deb]).stdout;
    for (const file of ['./usr/bin/profiled', './lib/systemd/system/profiled.service', './usr/share/profiled/profiled.toml.in']) {
      assert.ok(contents.includes(` ${file}\n`), `${file} in:\n${contents}`);
    }
    // Nothing under /etc or /var/lib in the archive: the postinst writes the config once and
    // never overwrites it, and the data dir is the user's.
    assert.doesNotMatch(contents, / \.\/(etc|var)\//);
  });

  const why = cannotInstall();
  it(`installs, serves as the profiled user, upgrades keeping the config, and purges${why ? ` (skipped: ${why})` : ''}`, { skip: why ?? false }, async () => {
    let installed = false;
    try {
      const inst = run('dpkg', ['-i', deb]);
      installed = inst.code === 0;
      assert.equal(inst.code, 0, inst.stdout + inst.stderr);
      assert.match(inst.stdout, /wrote \/etc\/profiled\/profiled\.toml with new keys/);

      const user = run('getent', ['passwd', 'profiled']).stdout.split(':');
      assert.equal(user[0], 'profiled');
      const [uid, gid] = [Number(user[2]), Number(user[3])];
      assert.ok(uid > 0 && uid < 1000, `a system user: uid ${uid}`);

      const conf = fs.statSync('/etc/profiled/profiled.toml');
      assert.equal(conf.mode & 0o777, 0o640, 'the config holds keys: readable by root and the profiled group only');
      assert.equal(conf.uid, 0);
      assert.equal(conf.gid, gid);
      const data = fs.statSync('/var/lib/profiled');
      assert.equal(data.uid, uid);
      assert.equal(data.mode & 0o777, 0o750);

      const config = fs.readFileSync('/etc/profiled/profiled.toml', 'utf8');
      const keys = ['admin_token', 'api_key', 'secret_key'].map((k) => keyOf(config, k));
      for (const k of keys) assert.match(k ?? '', /^[0-9a-f]{32}$/, `fresh random keys:\n${config}`);
      assert.equal(new Set(keys).size, 3);

      const verify = run('systemd-analyze', ['verify', '/lib/systemd/system/profiled.service']);
      assert.equal(verify.code, 0, verify.stderr);

      const check = run('/usr/bin/profiled', ['check-config', '--config', '/etc/profiled/profiled.toml'], { uid, gid });
      assert.equal(check.code, 0, check.stderr);

      const server = await serveAsProfiledUser(uid, gid);
      try {
        const [, apiKey, secretKey] = keys;
        const sent = await request(`${server.base}/2/httpapi`, {
          method: 'POST',
          json: { api_key: apiKey, events: [{ user_id: 'deb-user-1', event_type: 'installed', user_properties: { from: 'deb' } }] },
        });
        assert.equal(sent.status, 200, sent.text);
        const read = await request(`${server.base}/v1/userprofile?user_id=deb-user-1`, { headers: { Authorization: `Api-Key ${secretKey}` } });
        assert.equal(read.status, 200, read.text);
        assert.deepEqual(read.json.userData.user_properties, { from: 'deb' });
      } finally {
        server.proc.kill('SIGTERM');
        await new Promise((r) => server.proc.on('exit', r));
      }
      const stored = fs.readdirSync('/var/lib/profiled');
      assert.ok(stored.length > 0, 'the store is in /var/lib/profiled');

      // An upgrade (the same package again) keeps the config and its keys.
      const again = run('dpkg', ['-i', deb]);
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stdout, /wrote \/etc\/profiled/);
      assert.equal(fs.readFileSync('/etc/profiled/profiled.toml', 'utf8'), config);

      const purge = run('dpkg', ['--purge', 'profiled']);
      installed = purge.code !== 0;
      assert.equal(purge.code, 0, purge.stderr);
      assert.match(purge.stdout, /kept the data in \/var\/lib\/profiled/);
      assert.equal(fs.existsSync('/etc/profiled/profiled.toml'), false);
      assert.equal(run('getent', ['passwd', 'profiled']).stdout.split(':')[2], String(uid), 'the user stays');
      assert.deepEqual(fs.readdirSync('/var/lib/profiled'), stored, 'the data stays');

      // Installed again after the purge: the same user owns the kept data, and serves it.
      const reinstall = run('dpkg', ['-i', deb]);
      installed = reinstall.code === 0;
      assert.equal(reinstall.code, 0, reinstall.stderr);
      const config2 = fs.readFileSync('/etc/profiled/profiled.toml', 'utf8');
      const again2 = await serveAsProfiledUser(uid, gid);
      try {
        const read = await request(`${again2.base}/v1/userprofile?user_id=deb-user-1`, { headers: { Authorization: `Api-Key ${keyOf(config2, 'secret_key')}` } });
        assert.equal(read.status, 200, read.text);
        assert.deepEqual(read.json.userData.user_properties, { from: 'deb' });
      } finally {
        again2.proc.kill('SIGTERM');
        await new Promise((r) => again2.proc.on('exit', r));
      }
    } finally {
      if (installed) run('dpkg', ['--purge', 'profiled']);
      fs.rmSync('/var/lib/profiled', { recursive: true, force: true });
      fs.rmSync('/etc/profiled', { recursive: true, force: true });
      run('userdel', ['profiled']);
    }
  });
});
