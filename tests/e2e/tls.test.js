// HTTPS without a proxy (issue 10 item 6): [server] tls_cert and tls_key, a certificate
// verified by a real client against a CA this file makes (openssl), the certificate read again
// on SIGHUP, and bad certificate files refused with one line naming the key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { configToml, describe, it, makeTempDir, request, runBinary, SEED, startServer, uid, after } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// A test CA in a fresh dir and a certificate `name` (.pem, .key) for 127.0.0.1 it signed.
function makeCertificate(dir, name) {
  const r = spawnSync(path.join(here, 'make-test-ca.sh'), [dir, name], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

// The certificate the server presents on a new connection: its serial number (hex).
function servedSerial(port, ca) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      const serial = sock.getPeerCertificate().serialNumber;
      sock.end();
      resolve(serial);
    });
    sock.on('error', reject);
  });
}

function serialOf(file) {
  return new crypto.X509Certificate(fs.readFileSync(file)).serialNumber;
}

describe('HTTPS', () => {
  const dir = makeTempDir('profiled-e2e-tls-');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = makeCertificate(dir, 'first');
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'));

  it('serves ingestion and profile reads over HTTPS, verified against the CA', async () => {
    const server = await startServer({ config: configToml({ dataDir: '{{DATA}}', projects: [SEED], tls: first }) });
    try {
      assert.equal(server.https, true, 'the start-up line says https');
      assert.match(server.base, /^https:/);
      const user = uid('tls');
      const sent = await request(`${server.base}/2/httpapi`, {
        method: 'POST',
        ca,
        json: { api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x', user_properties: { over: 'tls' } }] },
      });
      assert.equal(sent.status, 200, sent.text);
      assert.equal(sent.json.code, 200);
      const read = await request(`${server.base}/v1/userprofile?user_id=${user}`, {
        ca,
        headers: { Authorization: `Api-Key ${SEED.secret_key}` },
      });
      assert.equal(read.status, 200, read.text);
      assert.deepEqual(read.json.userData.user_properties, { over: 'tls' });
    } finally {
      await server.dispose();
    }
  });

  it('a client that does not trust the CA refuses the server; plain HTTP gets no answer', async () => {
    const server = await startServer({ config: configToml({ dataDir: '{{DATA}}', projects: [SEED], tls: first }) });
    const otherDir = makeTempDir('profiled-e2e-tls-other-');
    try {
      makeCertificate(otherDir, 'x');
      const otherCa = fs.readFileSync(path.join(otherDir, 'ca.pem'));
      await assert.rejects(request(`${server.base}/healthz`, { ca: otherCa }), /certificate/);
      await assert.rejects(request(`http://127.0.0.1:${server.port}/healthz`), /ECONNRESET|socket hang up|Parse Error/, 'plain HTTP to the HTTPS port gets no HTTP answer');
      // The server still serves HTTPS after those.
      const ok = await request(`${server.base}/healthz`, { ca });
      assert.equal(ok.status, 200);
    } finally {
      await server.dispose();
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('SIGHUP reads the certificate files again: new connections get the new certificate', async () => {
    const live = { cert: path.join(dir, 'live.pem'), key: path.join(dir, 'live.key') };
    fs.copyFileSync(first.cert, live.cert);
    fs.copyFileSync(first.key, live.key);
    const server = await startServer({ config: configToml({ dataDir: '{{DATA}}', projects: [SEED], tls: live }) });
    try {
      assert.equal(await servedSerial(server.port, ca), serialOf(first.cert));
      const renewed = makeCertificate(dir, 'renewed');
      assert.notEqual(serialOf(renewed.cert), serialOf(first.cert));
      fs.copyFileSync(renewed.cert, live.cert);
      fs.copyFileSync(renewed.key, live.key);
      // Before the signal the running certificate is the old one.
      assert.equal(await servedSerial(server.port, ca), serialOf(first.cert));
      server.signal('SIGHUP');
      const deadline = Date.now() + 20000;
      let serial;
      while ((serial = await servedSerial(server.port, ca)) !== serialOf(renewed.cert) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(serial, serialOf(renewed.cert), server.logs);

      // A broken certificate file at the next reload: refused, the running one kept.
      fs.writeFileSync(live.cert, 'not a certificate\n');
      const before = server.stderr.length;
      server.signal('SIGHUP');
      while (!server.stderr.slice(before).includes('reload refused') && Date.now() < deadline + 20000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(server.stderr.slice(before), /config reload refused.*server\.tls_cert/);
      assert.equal(await servedSerial(server.port, ca), serialOf(renewed.cert));
      const ok = await request(`${server.base}/healthz`, { ca });
      assert.equal(ok.status, 200);
    } finally {
      await server.dispose();
    }
  });

  it('bad certificate settings exit 2 with one line naming the key (serve and check-config)', () => {
    const other = makeCertificate(dir, 'other');
    const bad = path.join(dir, 'garbage.pem');
    fs.writeFileSync(bad, 'garbage\n');
    const cases = [
      [{ cert: first.cert, key: other.key }, 'server.tls_key'], // a key of another certificate
      [{ cert: bad, key: first.key }, 'server.tls_cert'],
      [{ cert: first.cert, key: path.join(dir, 'missing.key') }, 'server.tls_key'],
    ];
    for (const [tlsFiles, key] of cases) {
      const file = path.join(dir, 'bad.toml');
      fs.writeFileSync(file, configToml({ dataDir: path.join(dir, 'data'), projects: [SEED], tls: tlsFiles }));
      for (const command of ['serve', 'check-config']) {
        const r = runBinary([command, '--config', file]);
        assert.equal(r.code, 2, `${command} ${JSON.stringify(tlsFiles)}: ${r.stderr}`);
        const lines = r.stderr.split('\n').filter((l) => l.trim());
        assert.equal(lines.length, 1, r.stderr);
        assert.ok(lines[0].includes(key), `${lines[0]} should name ${key}`);
      }
    }
    // Only one of the two keys.
    const file = path.join(dir, 'half.toml');
    fs.writeFileSync(file, configToml({ dataDir: path.join(dir, 'data'), projects: [SEED], tls: null }).replace('[server]\n', `[server]\ntls_cert = "${first.cert}"\n`));
    const r = runBinary(['check-config', '--config', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /server\.tls_key: missing/);
  });
});
