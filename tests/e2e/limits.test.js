// Transport limits (issue: headers ≤ 16 KiB, idle and read timeouts, a connection cap)
// and keep-alive behaviour, over raw sockets so nothing is hidden by an HTTP client; every case
// twice, over plain TCP and over TLS ([server] tls_cert: the deadlines cover the handshake, and
// a connection refused past max_connections is still answered), plus the TLS-only cases of a
// client that never starts its handshake.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, makeTempDir, startServer } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const CONFIG = `
[server]
listen = "127.0.0.1:0"
threads = 2
max_connections = 3
idle_timeout_ms = 300
read_timeout_ms = 600
[storage]
path = "{{DATA}}"
[[projects]]
id = "p1"
api_key = "limits-api-key"
secret_key = "limits-secret-key"
`;

// A CA and a certificate for 127.0.0.1 (make-test-ca.sh) in a fresh dir: {dir, cert, key, ca}.
function makeCertificate() {
  const dir = makeTempDir('profiled-e2e-limits-tls-');
  const r = spawnSync(path.join(here, 'make-test-ca.sh'), [dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { dir, cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key'), ca: fs.readFileSync(path.join(dir, 'ca.pem')) };
}

// Connects (over TLS with `ca`, the handshake done) and collects everything the server sends
// until it closes the connection.
function connectTo(port, ca) {
  return new Promise((resolve, reject) => {
    const socket = ca ? tls.connect({ port, host: '127.0.0.1', ca }) : net.connect(port, '127.0.0.1');
    const conn = { socket, data: '', closed: null };
    conn.closed = new Promise((done) => socket.on('close', () => done(conn.data)));
    socket.on('data', (d) => (conn.data += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on(ca ? 'secureConnect' : 'connect', () => resolve(conn));
    socket.on('error', reject);
  });
}

// Resolves with the data received so far once `pattern` has been seen.
function waitFor(conn, pattern) {
  return new Promise((resolve) => {
    const check = () => {
      if (pattern.test(conn.data)) {
        conn.socket.off('data', check);
        resolve(conn.data);
      }
    };
    conn.socket.on('data', check);
    check();
  });
}

for (const overTls of [false, true]) {
describe(`transport limits${overTls ? ' over TLS' : ''}`, () => {
  let server;
  let port;
  let certificate = null;
  const connect = (p) => connectTo(p, certificate?.ca);
  before(async () => {
    let config = CONFIG;
    if (overTls) {
      certificate = makeCertificate();
      config = config.replace('[server]\n', `[server]\ntls_cert = "${certificate.cert}"\ntls_key = "${certificate.key}"\n`);
    }
    server = await startServer({ config });
    assert.equal(server.https, overTls);
    port = Number(new URL(server.base).port);
  });
  after(async () => {
    await server?.dispose();
    if (certificate) fs.rmSync(certificate.dir, { recursive: true, force: true });
  });

  // Plain: closed after idle_timeout_ms; over TLS the handshake must end within read_timeout_ms.
  it('closes, unanswered, a connection that never sends a byte (over TLS: no ClientHello)', async () => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', () => {});
    await new Promise((r) => socket.on('close', r));
    assert.equal(data, '');
  });

  it('answers pipelined requests in order on one connection', async () => {
    const conn = await connect(port);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
                      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const all = await conn.closed;
    // A status line follows the previous body directly (the 404's JSON body has no newline).
    const statuses = [...all.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '404', '200']);
  });

  it('closes a keep-alive connection that stays idle past idle_timeout_ms', async () => {
    const conn = await connect(port);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(conn, /\r\n\r\nok\n/);
    // No second request: the server must close the connection by itself.
    const all = await conn.closed;
    assert.match(all, /^HTTP\/1\.1 200 OK/);
  });

  it('drops a request whose headers stall past read_timeout_ms, without answering', async () => {
    const conn = await connect(port);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');  // never finished
    assert.equal(await conn.closed, '');
  });

  it('drops a request whose body stalls past read_timeout_ms', async () => {
    const conn = await connect(port);
    conn.socket.write('POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"api_key":');
    assert.equal(await conn.closed, '');
  });

  it('answers 431 to headers over 16 KiB and 414 to a request line over 16 KiB', async () => {
    const big = await connect(port);
    big.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    assert.match(await big.closed, /^HTTP\/1\.1 431 /);
    const long = await connect(port);
    long.socket.write(`GET /v1/userprofile?user_id=${'u'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(await long.closed, /^HTTP\/1\.1 414 /);
  });

  it('accepts headers just under 16 KiB', async () => {
    const conn = await connect(port);
    conn.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(15 * 1024)}\r\nConnection: close\r\n\r\n`);
    assert.match(await conn.closed, /^HTTP\/1\.1 200 OK/);
  });

  it('answers 400 to a malformed request line', async () => {
    const conn = await connect(port);
    conn.socket.write('THIS IS NOT HTTP\r\n\r\n');
    assert.match(await conn.closed, /^HTTP\/1\.1 400 /);
  });

  it('answers 400 to a body with broken chunk framing', async () => {
    const conn = await connect(port);
    conn.socket.write('POST /2/httpapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n');
    const answer = await conn.closed;
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /\{"code":400,"error":"malformed HTTP request body"\}$/);
  });

  it('refuses connections beyond max_connections with 503 and serves again once they close', async () => {
    const held = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(port);
      // A request in flight keeps each connection busy (its body never completes) until
      // read_timeout_ms; the server counts them all.
      c.socket.write('POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{');
      held.push(c);
    }
    const extra = await connect(port);
    const answer = await extra.closed;
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /\{"code":503,"error":"too many connections"\}$/);
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    // Capacity comes back once the server has seen the closes.
    for (let attempt = 0; ; attempt++) {
      const again = await connect(port);
      again.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const text = await again.closed;
      if (/^HTTP\/1\.1 200 /.test(text)) break;
      assert.ok(attempt < 50, `still refused: ${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
}
