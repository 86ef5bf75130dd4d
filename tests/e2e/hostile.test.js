// Hostile clients (issue 9, item 5): slowloris, connection floods, oversized and malformed
// requests, hostile JSON. Each case gets a clean 4xx or a close by the server within the
// server's configured timeouts, applies nothing, and leaves the server healthy; memory stays
// bounded; a well-behaved client keeps being served while the worst of them run at once.
//
// Raw sockets throughout (`node:net`, or `node:tls` when the harness runs HTTPS, trusting the
// run's test CA as every other client does), so nothing is fixed up by an HTTP client. The
// cases read the same in both modes; where TLS changes what the server can promise (a
// connection past the cap gets its 503 only after a handshake, which the read timeout also
// bounds), the case says so. The server runs
// with short timeouts (read 1 s, idle 15 s: far apart, so a test can tell which one cut a
// connection) and a small connection cap. What other files already check is not repeated:
// limits.test.js (one 17 KiB header, a 17 KiB request line, a stalled header and body, simple
// pipelining, idle close, bad chunk framing, the 503 at the cap) and ingest-errors.test.js
// (40-level nesting, 2000 events, the 1 MiB and 20 MiB limits by Content-Length, chunked and
// gzip bodies).
//
// The test's own waits are generous (60 s) and never a latency threshold: the bound each case
// proves is the server's (a slow request is cut long before the client would have finished it,
// and before idle_timeout_ms).
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { after, before, checkSeedResponse, describe, it, SEED, sleep, startServer, TLS, uid } from './harness.js';

const READ_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 15000;
const MAX_CONNECTIONS = 48;
const WAIT_MS = 60000; // the test's own bound on any one wait; the server's are far shorter
const MiB = 1024 * 1024;
const KEY = SEED.api_key;
const AUTH = `Authorization: Api-Key ${SEED.secret_key}\r\n`;

let server;
let port;
let rssBefore;

// ---- raw connections ----

// A raw connection to the server (`toPort`: another server's). Everything it sends is
// collected; `closed` resolves once the connection is gone, and `byServer` tells whether the
// server ended it (FIN, close_notify or reset). In HTTPS mode it resolves once the TLS
// handshake is done (the CA is trusted through NODE_EXTRA_CA_CERTS, run.sh), and rejects when
// the handshake fails. `tcp`: plain TCP even then (the handshake's own cases).
function connect(toPort = port, { tcp = false } = {}) {
  const tlsOn = TLS && !tcp;
  return new Promise((resolve, reject) => {
    const socket = tlsOn ? tls.connect({ host: '127.0.0.1', port: toPort }) : net.connect(toPort, '127.0.0.1');
    const conn = {
      socket,
      chunks: [],
      byServer: false,
      sent: 0,
      get buf() {
        return Buffer.concat(this.chunks);
      },
      get text() {
        return this.buf.toString('latin1');
      },
    };
    conn.closed = new Promise((done) => socket.on('close', () => done(conn)));
    socket.on('data', (d) => conn.chunks.push(d));
    socket.on('end', () => (conn.byServer = true));
    socket.on('error', (e) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') conn.byServer = true;
    });
    socket.once(tlsOn ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve(conn);
    });
    socket.once('error', reject);
  });
}

// Rejects when `promise` takes longer than the test is willing to wait.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Splits what the server sent into responses ({status, headers, body}); a trailing partial
// response is left out.
function responses(buf) {
  const out = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const [statusLine, ...lines] = buf.subarray(at, end).toString('latin1').split('\r\n');
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + len) return out;
    const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    out.push({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]), headers, body, json });
    at = end + 4 + len;
  }
}

// Writes `bytes` and waits until the server closes the connection or `count` responses have
// arrived. Returns {responses, byServer, text}.
async function exchange(bytes, { count = Infinity, conn } = {}) {
  const c = conn ?? (await connect());
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  c.socket.write(data, (e) => {
    if (!e) c.sent += data.length;
  });
  const enough = new Promise((resolve) => {
    const check = () => {
      if (responses(c.buf).length >= count) resolve();
    };
    c.socket.on('data', check);
    check();
  });
  await within(Promise.race([c.closed, enough]), WAIT_MS, `answer to ${data.subarray(0, 40).toString('latin1')}`);
  const byServer = c.byServer;
  if (!conn) c.socket.destroy();
  return { responses: responses(c.buf), byServer, text: c.text, conn: c };
}

// Sends `bytes` (a string or a Buffer) one byte every `everyMs`, until the server closes the
// connection (or all were sent). Returns {sent, total, byServer, ms, text}.
async function trickle(bytes, { everyMs = 200, conn } = {}) {
  const c = conn ?? (await connect());
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  const t0 = Date.now();
  let sent = 0;
  let gone = false;
  c.closed.then(() => (gone = true));
  while (!gone && sent < data.length) {
    c.socket.write(data.subarray(sent, sent + 1));
    sent++;
    await sleep(everyMs);
  }
  await within(c.closed, WAIT_MS, 'the server closing a slow request');
  return { sent, total: data.length, byServer: c.byServer, ms: Date.now() - t0, text: c.text };
}

// One request on a fresh connection to `toPort`; the responses once the server closes.
async function rawExchange(toPort, bytes) {
  const c = await connect(toPort);
  c.socket.write(bytes);
  await within(c.closed, WAIT_MS, 'an answer');
  return responses(c.buf);
}

function post(path, body, headers = '') {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\nConnection: close\r\n${headers}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

function get(pathAndQuery, headers = '') {
  return `GET ${pathAndQuery} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`;
}

// ---- what each case asserts besides its answer ----

async function ingested() {
  return (await server.metrics()).get('profiled_events_ingested_total');
}

// Runs `fn` and asserts that no event was ingested meanwhile.
async function appliesNothing(fn) {
  const before = await ingested();
  const out = await fn();
  assert.equal(await ingested(), before, 'events were ingested');
  return out;
}

// The server answers, ingests and reads as usual.
async function assertHealthy() {
  const health = await server.request('GET', '/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.text, 'ok\n');
  const user = uid('healthy');
  await server.trackOk([{ user_id: user, event_type: 'check', user_properties: { ok: true } }]);
  assert.deepEqual((await server.userData({ user_id: user })).user_properties, { ok: true });
}

function assertClosedWithoutAnswer(r) {
  assert.equal(r.text, '', 'the server answered');
  assert.ok(r.byServer, 'the server did not close the connection');
}

function assertOnly(r, status, body) {
  assert.equal(r.responses.length, 1, r.text);
  assert.equal(r.responses[0].status, status, r.text);
  if (body instanceof RegExp) assert.match(r.responses[0].body, body);
  else if (typeof body === 'string') assert.equal(r.responses[0].body, body);
  else if (body !== undefined) assert.deepEqual(r.responses[0].json, body);
}

// An answer, then the server closes the connection.
function assertAnswerAndClose(r, status, body) {
  assertOnly(r, status, body);
  assert.equal(r.responses[0].headers.connection, 'close');
  assert.ok(r.byServer, 'the server did not close the connection');
}

function gzip(bytes) {
  return zlib.gzipSync(bytes);
}

// 1 GiB of spaces (valid JSON whitespace), gzipped: about 1 MiB on the wire. Made once.
let bomb;
async function gzipBomb() {
  bomb ??= await gzipSpaces(1024);
  return bomb;
}

async function gzipSpaces(mib) {
  const gz = zlib.createGzip({ level: 9 });
  const parts = [];
  gz.on('data', (c) => parts.push(c));
  const done = new Promise((resolve) => gz.on('end', resolve));
  const spaces = Buffer.alloc(MiB, 0x20);
  for (let i = 0; i < mib; i++) {
    if (!gz.write(spaces)) await new Promise((resolve) => gz.once('drain', resolve));
  }
  gz.end();
  await done;
  return Buffer.concat(parts);
}

function events(list) {
  return JSON.stringify({ api_key: KEY, events: list });
}

// The [server] process's memory in MiB.
function memoryMiB() {
  const m = server.memory();
  return { rss: Math.round(m.rssKb / 1024), peak: Math.round(m.peakKb / 1024) };
}


before(async () => {
  server = await startServer({
    server: { max_connections: MAX_CONNECTIONS, read_timeout_ms: READ_TIMEOUT_MS, idle_timeout_ms: IDLE_TIMEOUT_MS },
  });
  port = server.port;
  assert.equal(server.https, Boolean(TLS), 'the server does not speak what the harness runs');
  // Warm up (allocator caches, the store) before the baseline.
  for (let i = 0; i < 20; i++) await assertHealthy();
  rssBefore = memoryMiB();
});

after(async () => {
  await server?.dispose();
});

describe('slow clients', () => {
  it('slow headers (a byte every 200 ms) are dropped after read_timeout_ms, unanswered', async () => {
    const header = get(`/healthz?pad=${'p'.repeat(120)}`);
    const r = await trickle(header);
    assertClosedWithoutAnswer(r);
    // Cut long before the client would have finished (about 30 s), and by the read timeout
    // that runs from the first byte, not by the idle timeout.
    assert.ok(r.sent < r.total, `all ${r.total} bytes were sent`);
    assert.ok(r.ms >= READ_TIMEOUT_MS, `closed after ${r.ms} ms`);
    assert.ok(r.ms < IDLE_TIMEOUT_MS, `closed after ${r.ms} ms: the idle timeout, not the read timeout`);
    await assertHealthy();
  });

  it('slow headers on a keep-alive connection after a first request are dropped the same way', async () => {
    const conn = await connect();
    const first = await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { conn, count: 1 });
    assertOnly(first, 200, 'ok\n');
    const r = await trickle(get(`/healthz?pad=${'p'.repeat(120)}`), { conn });
    assert.equal(r.text, first.text, 'the slow request was answered');
    assert.ok(r.byServer && r.sent < r.total && r.ms < IDLE_TIMEOUT_MS, JSON.stringify(r));
  });

  it('a slow body (a byte every 200 ms) is dropped after read_timeout_ms and applies nothing', async () => {
    const user = uid('slow-body');
    const body = events([{ user_id: user, event_type: 'slow', user_properties: { pad: 'p'.repeat(100) } }]);
    const head = `POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await appliesNothing(async () => {
      const conn = await connect();
      conn.socket.write(head);
      return trickle(body, { conn });
    });
    assertClosedWithoutAnswer(r);
    assert.ok(r.sent < r.total && r.ms >= READ_TIMEOUT_MS && r.ms < IDLE_TIMEOUT_MS, JSON.stringify({ ...r, text: undefined }));
    assert.equal((await server.profile({ user_id: user })).status, 404);
    await assertHealthy();
  });

  it('a body promised with Expect: 100-continue and never sent is dropped after read_timeout_ms', async () => {
    const conn = await connect();
    conn.socket.write('POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
    await within(conn.closed, WAIT_MS, 'the server closing');
    assert.equal(conn.text, 'HTTP/1.1 100 Continue\r\n\r\n');
    assert.ok(conn.byServer);
  });

  it('a client that asks for big answers and never reads them is dropped once its writes stall past read_timeout_ms', async () => {
    const user = uid('big-profile');
    const props = Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`p${i}`, 'v'.repeat(1000)]));
    await server.trackOk([{ user_id: user, event_type: 'e', user_properties: props }]);
    const conn = await connect();
    conn.socket.pause(); // reads nothing: the server's writes fill the socket buffers and stop
    conn.socket.write(`GET /v1/userprofile?user_id=${user} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`.repeat(100));
    await sleep(3 * READ_TIMEOUT_MS);
    conn.socket.resume();
    await within(conn.closed, WAIT_MS, 'the server closing a connection that does not read');
    assert.ok(conn.byServer);
    const answered = responses(conn.buf);
    assert.ok(answered.length < 100, `all ${answered.length} answers were written`);
    assert.ok(answered.every((r) => r.status === 200 && r.body.length > 900000));
    await assertHealthy();
  });
});

describe('connection flood', () => {
  it(`beyond max_connections (${MAX_CONNECTIONS}) each new connection gets 503 and is closed; capacity returns once they go`, async () => {
    // Over TLS the server first completes the handshake of a connection past the cap (bounded by
    // 1 s, then closed), and its 503 follows it; connect() resolves after the handshake, so each
    // still meets its 503 here.
    const flood = await Promise.all(Array.from({ length: 3 * MAX_CONNECTIONS }, () => connect()));
    // Each asks for /healthz and keeps its connection open (keep-alive) once answered.
    const answered = await Promise.all(
      flood.map((c) => exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { conn: c, count: 1 })),
    );
    const served = answered.filter((r) => r.responses[0]?.status === 200);
    const refused = answered.filter((r) => r.responses[0]?.status === 503);
    assert.equal(served.length + refused.length, flood.length, answered.map((r) => r.text.slice(0, 20)).join('|'));
    assert.ok(served.length <= MAX_CONNECTIONS, `${served.length} served`);
    assert.ok(refused.length >= flood.length - MAX_CONNECTIONS, `${refused.length} refused`);
    for (const r of refused) {
      assert.equal(r.responses.length, 1);
      assert.deepEqual(r.responses[0].json, { code: 503, error: 'too many connections' });
      assert.equal(r.responses[0].headers.connection, 'close');
      await within(r.conn.closed, WAIT_MS, 'a refused connection closing');
      assert.ok(r.conn.byServer, 'a refused connection was left open');
    }
    // The served ones stay open: nobody else gets in meanwhile.
    assert.equal(served.filter((r) => r.conn.socket.destroyed).length, 0);
    const meanwhile = await exchange(get('/healthz'));
    assertAnswerAndClose(meanwhile, 503, { code: 503, error: 'too many connections' });
    // They go: capacity comes back as the server sees the closes.
    for (const c of flood) c.socket.destroy();
    let again;
    for (let attempt = 0; attempt < 200; attempt++) {
      again = await exchange(get('/healthz'));
      if (again.responses[0]?.status === 200) break;
      await sleep(50);
    }
    assertAnswerAndClose(again, 200, 'ok\n');
    await assertHealthy();
    // Only the connection asking is left (the others' closes may take a moment to be seen).
    let open;
    for (let attempt = 0; attempt < 100; attempt++) {
      open = (await server.metrics()).get('profiled_open_connections');
      if (open === 1) break;
      await sleep(50);
    }
    assert.equal(open, 1);
  });
});

// What only HTTPS has: the handshake. The read timeout bounds it as it bounds a request.
describe('TLS handshake', { skip: TLS ? false : 'plain HTTP: no handshake' }, () => {
  // A real ClientHello, as this Node sends it, caught on a local socket that answers nothing.
  async function clientHello() {
    const catcher = net.createServer();
    const first = new Promise((resolve) => catcher.on('connection', (s) => s.once('data', (d) => {
      resolve(d);
      s.destroy();
    })));
    await new Promise((resolve) => catcher.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({ host: '127.0.0.1', port: catcher.address().port });
    client.on('error', () => {});
    const hello = await within(first, WAIT_MS, 'a ClientHello');
    client.destroy();
    catcher.close();
    return hello;
  }

  it('a TCP connection that never starts the handshake is dropped after read_timeout_ms, sent nothing', async () => {
    const conn = await connect(port, { tcp: true });
    const t0 = Date.now();
    await within(conn.closed, WAIT_MS, 'the server closing a silent connection');
    const ms = Date.now() - t0;
    assert.equal(conn.text, '', 'the server sent something');
    assert.ok(conn.byServer, 'the server did not close the connection');
    // The handshake's deadline is read_timeout_ms from the accept, not idle_timeout_ms. The
    // accept may come a moment before this client sees its connection (hence 50 ms less);
    // the server's sweep runs every 250 ms, so the close comes up to that much later.
    assert.ok(ms >= READ_TIMEOUT_MS - 50, `closed after ${ms} ms`);
    assert.ok(ms < IDLE_TIMEOUT_MS, `closed after ${ms} ms: the idle timeout, not the read timeout`);
    await assertHealthy();
  });

  it('a ClientHello sent a byte every 200 ms is dropped after read_timeout_ms, the handshake unfinished', async () => {
    const hello = await clientHello();
    const { sent, total, byServer, ms, text } = await trickle(hello, { conn: await connect(port, { tcp: true }) });
    assert.equal(text, '', 'the server answered the hello');
    assert.ok(byServer, 'the server did not close the connection');
    assert.ok(sent < total, `all ${total} bytes of the hello were sent`);
    assert.ok(ms >= READ_TIMEOUT_MS - 50 && ms < IDLE_TIMEOUT_MS, `closed after ${ms} ms`);
    await assertHealthy();
  });
});

describe('oversized requests', () => {
  // 2000 small header fields, 22.9 KB in all.
  const manyFields = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${
    Array.from({ length: 2000 }, (_, i) => `X-F${i}: v\r\n`).join('')}\r\n`, 'latin1');

  it('2000 small header fields over 16 KiB in all are 431', async () => {
    const r = await exchange(manyFields);
    assertAnswerAndClose(r, 431, 'request headers exceed 16 KiB');
  });

  // The same header in two writes split near 16 KiB (as TLS's 16 KiB records split it), which
  // the HTTP library alone let through as a 200.
  for (const at of [16000, 16384]) {
    it(`the same header written in two parts split at byte ${at} is 431 too`, async () => {
      const conn = await connect();
      conn.socket.write(manyFields.subarray(0, at));
      await sleep(100);
      const r = await exchange(manyFields.subarray(at), { conn });
      conn.socket.destroy();
      assertAnswerAndClose(r, 431, 'request headers exceed 16 KiB');
    });
  }

  it('a 1 MiB request line is 414, answered after reading 16 KiB of it', async () => {
    const r = await exchange(get(`/v1/userprofile?user_id=${'u'.repeat(MiB)}`, AUTH));
    assertAnswerAndClose(r, 414, 'request line exceeds 16 KiB');
  });

  it('a declared Content-Length of 10 GB is 413 at once, before any body byte', async () => {
    const r = await appliesNothing(() =>
      exchange('POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n'),
    );
    assertAnswerAndClose(r, 413, { code: 413, error: 'Payload too large' });
  });

  it('with Expect: 100-continue an oversized body is refused with 413 instead of 100 Continue', async () => {
    const r = await exchange('POST /batch HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000\r\nExpect: 100-continue\r\n\r\n');
    assert.doesNotMatch(r.text, /100 Continue/);
    assertAnswerAndClose(r, 413, { code: 413, error: 'Payload too large' });
  });

  it('a chunked body growing past 20 MiB is 413 as it arrives and applies nothing', async () => {
    const user = uid('chunked-big');
    const chunk = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const start = `{"api_key":"${KEY}","events":[{"user_id":"${user}","event_type":"e","event_properties":{"pad":"`;
    const piece = 'x'.repeat(MiB);
    const parts = [chunk(start)];
    for (let i = 0; i < 21; i++) parts.push(chunk(piece));
    parts.push(chunk('"}}]}'), '0\r\n\r\n');
    const r = await appliesNothing(() =>
      exchange(`POST /batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${parts.join('')}`),
    );
    assertAnswerAndClose(r, 413, { code: 413, error: 'Payload too large' });
    assert.equal((await server.profile({ user_id: user })).status, 404);
  });

  it('gzip bombs (1 GiB of spaces in about 1 MiB) are 413 on /batch, /2/httpapi and /identify, inflated no further than the limit', async () => {
    const bomb = await gzipBomb();
    assert.ok(bomb.length < MiB, `${bomb.length} bytes`); // within /2/httpapi's wire limit too
    for (const path of ['/batch', '/2/httpapi', '/identify']) {
      const r = await appliesNothing(() => exchange(post(path, bomb, 'Content-Encoding: gzip\r\n')));
      assertAnswerAndClose(r, 413, { code: 413, error: 'Payload too large' });
    }
    // A gzip body inside a gzip body is decoded once: the inner one is not JSON.
    const nested = await appliesNothing(() =>
      exchange(post('/2/httpapi', gzip(gzip(events([{ user_id: uid('gz'), event_type: 'e' }]))), 'Content-Encoding: gzip\r\n')),
    );
    assertOnly(nested, 400);
    assert.equal(nested.responses[0].json.error, 'Invalid JSON request body');
    await assertHealthy();
  });

  it('a chunk extension or trailer that never ends is a 400, not a growing buffer', async () => {
    const before = memoryMiB();
    for (const start of ['1;ext=', '0\r\nX-Trailer: ']) {
      const flood = Buffer.concat([
        Buffer.from(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${start}`),
        Buffer.alloc(32 * MiB, 'a'),
      ]);
      const r = await appliesNothing(() => exchange(flood));
      assertAnswerAndClose(r, 400, {
        code: 400,
        error: 'malformed HTTP request body: a chunk line or trailer is too long',
      });
    }
    const now = memoryMiB();
    console.log(`chunk line floods of 2 x 32 MiB: RSS ${before.rss} -> ${now.rss} MiB`);
    await assertHealthy();
  });
});

describe('request bodies held at once (max_body_memory_mb = 64)', () => {
  let budgetServer;
  before(async () => {
    // Its own server: the bodies it holds wait for their senders (read timeout 30 s).
    budgetServer = await startServer({ server: { max_body_memory_mb: 64, read_timeout_ms: 30000 } });
  });
  after(async () => {
    await budgetServer?.dispose();
  });

  it('a body that would pass the budget is 503 with Retry-After; small ones pass; its share comes back once answered', async () => {
    const size = 19 * MiB;
    const head = `POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\n\r\n`;
    const open = () => connect(budgetServer.port);
    const sees = (conn, text) => within(new Promise((resolve) => {
      const check = () => conn.buf.includes(text) && resolve();
      conn.socket.on('data', check);
      check();
    }), WAIT_MS, `waiting for ${text}`);
    const ingestedHere = async () => (await budgetServer.metrics()).get('profiled_events_ingested_total');
    const rss0 = budgetServer.memory().rssKb;
    // Three 19 MiB bodies announced: the server takes 57 MiB of its 64 for them (it says
    // 100 Continue only once it has).
    const held = [];
    for (let i = 0; i < 3; i++) {
      const c = await open();
      c.socket.write(head);
      await sees(c, '100 Continue');
      held.push(c);
    }
    const refuse = async () => {
      const c = await open();
      c.socket.write(head);
      await within(c.closed, WAIT_MS, 'the refusal');
      return responses(c.buf);
    };
    const refused = await refuse();
    assert.equal(refused.length, 1, JSON.stringify(refused));
    assert.equal(refused[0].status, 503);
    assert.deepEqual(refused[0].json, { code: 503, error: 'too many request bodies at once; retry later' });
    assert.equal(refused[0].headers['retry-after'], '1');
    assert.equal(refused[0].headers.connection, 'close');
    // A small batch still fits.
    const before = await ingestedHere();
    await budgetServer.trackOk([{ user_id: uid('small'), event_type: 'e' }]);
    // A gzip body counts with its decoded size: 10 MiB decoded does not fit.
    const user = uid('gz-big');
    const big = gzip(events([{ user_id: user, event_type: 'e', user_properties: { s: 'x'.repeat(10 * MiB) } }]));
    const gz = await rawExchange(budgetServer.port, post('/batch', big, 'Content-Encoding: gzip\r\n'));
    assert.equal(gz[0]?.status, 503);
    assert.equal(gz[0].json.error, 'too many request bodies at once; retry later');
    assert.equal(await ingestedHere(), before + 1);
    assert.equal((await budgetServer.profile({ user_id: user })).status, 404);
    // One held body arrives and is answered: its share is back, so the next one gets in.
    const body = events([{ user_id: uid('held'), event_type: 'e' }]);
    held[0].socket.write(body + ' '.repeat(size - body.length));
    await sees(held[0], '"events_ingested":1');
    const again = await open();
    again.socket.write(head);
    await sees(again, '100 Continue');
    const rss1 = budgetServer.memory().rssKb;
    console.log(`3 bodies of 19 MiB held with a 64 MiB budget: RSS ${Math.round(rss0 / 1024)} -> ${Math.round(rss1 / 1024)} MiB`);
    for (const c of [...held, again]) c.socket.destroy();
  });
});

describe('hostile JSON', () => {
  it('nesting 100,000 deep is a 400 from the parser, as the body and inside a property', async () => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    for (const body of [deep, '{"a":'.repeat(100000) + '1' + '}'.repeat(100000),
      `{"api_key":"${KEY}","events":[{"user_id":"${uid('deep')}","event_type":"e","event_properties":{"a":${deep}}}]}`]) {
      const r = await appliesNothing(() => exchange(post('/batch', body)));
      assertAnswerAndClose(r, 400, {
        code: 400,
        error: 'Invalid JSON request body',
        details: ['body is not valid JSON: too deep'],
      });
    }
  });

  it('1,000,000 events (3 MB of JSON) is 413 naming the count; nothing applied', async () => {
    const body = `{"api_key":"${KEY}","events":[${Array(1000000).fill('{}').join(',')}]}`;
    const r = await appliesNothing(() => exchange(post('/batch', body)));
    assertAnswerAndClose(r, 413, {
      code: 413,
      error: 'Payload too large',
      details: ['at most 2000 events per request, got 1000000'],
    });
  });

  it('a 10 MB string and a 1,000,000-value array are accepted within /batch\'s limit and stored bounded', async () => {
    const user = uid('huge-values');
    const r = await exchange(
      post('/batch', events([{
        user_id: user,
        event_type: 'e',
        user_properties: { $set: { s: 'é'.repeat(5_000_000), list: Array(1_000_000).fill(7) } },
      }])),
    );
    assertOnly(r, 200);
    assert.equal(r.responses[0].json.events_ingested, 1);
    const props = (await server.userData({ user_id: user })).user_properties;
    assert.equal(props.s, 'é'.repeat(1024)); // 1024 characters, not bytes
    assert.deepEqual(props.list, Array(1000).fill(7));
    await assertHealthy();
  });

  it('invalid UTF-8, a lone surrogate or a raw NUL byte anywhere is a 400; nothing applied', async () => {
    const user = uid('bytes');
    const bad = [
      ['a value', Buffer.from([0xff, 0xfe])],
      ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
      ['a truncated sequence', Buffer.from([0xe2, 0x82])],
      ['a raw NUL', Buffer.from([0x00])],
      ['a lone surrogate', Buffer.from('\\ud800')],
    ];
    for (const [what, bytes] of bad) {
      for (const where of ['value', 'key', 'id']) {
        const parts =
          where === 'value'
            ? [`{"api_key":"${KEY}","events":[{"user_id":"${user}","event_type":"e","user_properties":{"k":"`, bytes, '"}}]}']
            : where === 'key'
              ? [`{"api_key":"${KEY}","events":[{"user_id":"${user}","event_type":"e","user_properties":{"k`, bytes, '":1}}]}']
              : [`{"api_key":"${KEY}","events":[{"user_id":"${user}`, bytes, '","event_type":"e"}]}'];
        const body = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
        const r = await appliesNothing(() => exchange(post('/2/httpapi', body)));
        assert.equal(r.responses[0]?.status, 400, `${what} in a ${where}: ${r.text}`);
        assert.deepEqual(r.responses[0].json, {
          code: 400,
          error: 'Invalid JSON request body',
          details: ['body is not valid JSON: syntax error'],
        }, `${what} in a ${where}`);
      }
    }
    // The same through /identify's form: the identification must be JSON.
    const form = `api_key=${KEY}&identification=${encodeURIComponent(`{"user_id":"${user}`)}%FF%00${encodeURIComponent('","user_properties":{"$set":{"a":1}}}')}`;
    const id = await appliesNothing(() =>
      exchange(`POST /identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`),
    );
    assertOnly(id, 400);
    assert.equal(id.responses[0].json.error, 'missing_event');
    assert.equal((await server.profile({ user_id: user })).status, 404);
  });

  it('escaped NUL characters (\\u0000) in an id, a key and a value are kept exactly and read back', async () => {
    const user = `nul\u0000${uid('user')}`;
    const r = await exchange(post('/2/httpapi', events([{ user_id: user, event_type: 'e\u0000x', user_properties: { 'k\u0000': 'v\u0000' } }])));
    assertOnly(r, 200);
    const read = await server.profile({ user_id: user });
    assert.equal(read.status, 200);
    assert.equal(read.json.userData.user_id, user);
    assert.deepEqual(read.json.userData.user_properties, { 'k\u0000': 'v\u0000' });
    assert.match(read.text, /"k\\u0000":"v\\u0000"/); // written as JSON escapes, never raw
    // Another id that differs only after the NUL is another user.
    assert.equal((await server.profile({ user_id: 'nul\u0000' })).status, 404);
  });

  it('a duplicated key reads as its last value, in the envelope, an event and an operation', async () => {
    const user = uid('dup');
    const body = `{"api_key":"wrong","api_key":"${KEY}","events":[{"user_id":7,"user_id":"${user}","event_type":"","event_type":"e",` +
      `"user_properties":{"$set":{"a":1,"a":2},"$set":{"b":3}}}]}`;
    const r = await exchange(post('/2/httpapi', body));
    assertOnly(r, 200);
    assert.deepEqual((await server.userData({ user_id: user })).user_properties, { b: 3 });
    // The last value is the one validated: an invalid last user_id refuses the event.
    const refused = await appliesNothing(() =>
      exchange(post('/2/httpapi', `{"api_key":"${KEY}","events":[{"user_id":"${uid('dup')}","user_id":"null","event_type":"e"}]}`)),
    );
    assertOnly(refused, 400);
    assert.deepEqual(refused.responses[0].json.events_with_invalid_fields, { user_id: [0] });
  });

  it('numbers out of range: 1e400 anywhere, time, session_id and event_id past 64 bits are 400s; -0 reads as 0', async () => {
    const user = uid('numbers');
    const cases = [
      [{ user_properties: { a: '1e400' } }, 'user_properties', 'holds a number beyond the range of a double (±1.7976931348623157e308)'],
      [{ event_properties: { a: ['-1e400'] } }, 'event_properties', 'holds a number beyond the range of a double (±1.7976931348623157e308)'],
      [{ time: '99999999999999999999999' }, 'time', 'must be milliseconds since the epoch, as an integer'],
      [{ time: '-1' }, 'time', 'must be milliseconds since the epoch, as an integer'],
      [{ session_id: '9223372036854775808' }, 'session_id', 'must be an integer from -9223372036854775808 to 9223372036854775807'],
      [{ event_id: '18446744073709551616' }, 'event_id', 'must be an integer from -9223372036854775808 to 9223372036854775807'],
      [{ session_id: '1e20' }, 'session_id', 'must be an integer from -9223372036854775808 to 9223372036854775807'],
    ];
    for (const [fields, field, why] of cases) {
      // Numbers written as they are (JSON.stringify cannot write 1e400).
      const extra = Object.entries(fields)
        .map(([k, v]) => `"${k}":${typeof v === 'string' ? v : JSON.stringify(v).replace(/"(-?1e400)"/g, '$1')}`)
        .join(',');
      const body = `{"api_key":"${KEY}","events":[{"user_id":"${user}","event_type":"e",${extra}}]}`;
      const r = await appliesNothing(() => exchange(post('/2/httpapi', body)));
      assertOnly(r, 400);
      assert.deepEqual(r.responses[0].json.events_with_invalid_fields, { [field]: [0] }, body);
      assert.ok(r.responses[0].json.details.includes(`events[0].${field}: ${why}`), `${body}: ${r.responses[0].body}`);
    }
    assert.equal((await server.profile({ user_id: user })).status, 404);
    const ok = await exchange(post('/2/httpapi',
      `{"api_key":"${KEY}","events":[{"user_id":"${user}","event_type":"e","session_id":-0,"event_id":9223372036854775807,` +
        '"user_properties":{"z":-0,"zf":-0.0,"tiny":1e-400}}]}'));
    assertOnly(ok, 200);
    const read = await server.profile({ user_id: user });
    assert.deepEqual(read.json.userData.user_properties, { z: 0, zf: 0, tiny: 0 }); // not -0
    for (const k of ['z', 'zf', 'tiny']) assert.match(read.text, new RegExp(`"${k}":0[,}]`));
  });
});

describe('malformed and unusual HTTP', () => {
  it('pipelined requests in one write are all answered, in order, each as if sent alone', async () => {
    const user = uid('pipelined');
    const track = events([{ user_id: user, event_type: 'e', user_properties: { a: 1 } }]);
    const pipeline =
      `POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: ${track.length}\r\n\r\n${track}` +
      `GET /v1/userprofile?user_id=${user} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n` +
      'POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope' +
      'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(200) +
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const r = await exchange(pipeline);
    assert.ok(r.byServer);
    const statuses = r.responses.map((x) => x.status);
    assert.deepEqual(statuses, [200, 200, 400, 405, 404, ...Array(201).fill(200)]);
    // The read saw the track before it: requests on one connection are handled in order.
    assert.deepEqual(r.responses[1].json.userData.user_properties, { a: 1 });
    assert.equal(r.responses[2].json.error, 'Invalid JSON request body');
  });

  it('malformed request lines and header fields are 400 and closed', async () => {
    const cases = [
      ['GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', 'bad version'],
      ['GET /healthz\r\n\r\n', 'bad target'], // HTTP/0.9
      ['GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 'bad target'],
      ['GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n', 'bad target'],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 'bad value'],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 'bad field'],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n', 'bad field'],
      ['\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', 'bad method'], // a TLS hello
    ];
    for (const [request, why] of cases) {
      const r = await exchange(request);
      assertAnswerAndClose(r, 400, `malformed HTTP request: ${why}`);
    }
  });

  it('a bad Content-Length is 400 and closed; Content-Length with Transfer-Encoding too (no smuggling)', async () => {
    const cases = [
      ['Content-Length: abc', 'malformed HTTP request: bad Content-Length'],
      ['Content-Length: -1', 'malformed HTTP request: bad Content-Length'],
      ['Content-Length: 99999999999999999999999', 'malformed HTTP request: bad Content-Length'],
      ['Content-Length: 2\r\nContent-Length: 3', 'malformed HTTP request: multiple Content-Length'],
      ['Content-Length: 5\r\nTransfer-Encoding: chunked', 'malformed HTTP request: bad Transfer-Encoding'],
    ];
    for (const [fields, text] of cases) {
      const r = await appliesNothing(() =>
        exchange(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\n${fields}\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      assertAnswerAndClose(r, 400, text);
    }
  });

  it('a Transfer-Encoding other than chunked is 400 (or 501 before chunked) and closed, its body never read as a request', async () => {
    const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const r = await appliesNothing(() =>
      exchange(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n${smuggled}`),
    );
    assertAnswerAndClose(r, 400, { code: 400, error: 'Transfer-Encoding must end with chunked' });
    const both = await appliesNothing(() =>
      exchange(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n${smuggled}`),
    );
    assertAnswerAndClose(both, 501, { code: 501, error: 'Transfer-Encoding: only chunked is supported' });
  });

  it('chunked bodies: 1-byte chunks are accepted; an overflowing chunk size is 400', async () => {
    const user = uid('chunks');
    const body = events([{ user_id: user, event_type: 'e', user_properties: { c: 'chunky' } }]);
    const chunked = [...body].map((ch) => `1\r\n${ch}\r\n`).join('') + '0\r\n\r\n';
    const ok = await exchange(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
    assertOnly(ok, 200);
    assert.deepEqual((await server.userData({ user_id: user })).user_properties, { c: 'chunky' });
    const overflow = await appliesNothing(() =>
      exchange('POST /2/httpapi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n'),
    );
    assertAnswerAndClose(overflow, 400, { code: 400, error: 'malformed HTTP request body' });
  });

  it('unknown methods are 405 on a known path and 404 elsewhere; methods are case-sensitive', async () => {
    // A 405's Allow names what its path takes.
    for (const [request, status, error, allow] of [
      ['BREW /healthz', 405, 'Method not allowed on this path', 'GET, OPTIONS'],
      ['get /healthz', 405, 'Method not allowed on this path', 'GET, OPTIONS'],
      ['HEAD /v1/userprofile', 405, 'Method not allowed on this path', 'GET, OPTIONS'],
      ['DELETE /2/httpapi', 405, 'Method not allowed on this path', 'POST, OPTIONS'],
      ['PUT /identify', 405, 'Method not allowed on this path', 'GET, POST, OPTIONS'],
      ['BREW /coffee', 404, 'Not found', undefined],
    ]) {
      const r = await exchange(`${request} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      if (request.startsWith('HEAD')) {
        assert.equal(r.responses[0]?.status, 405, r.text); // a HEAD answer has no body to read
      } else {
        assertOnly(r, status, { code: status, error });
      }
      assert.equal(r.responses[0].headers.allow, allow, request);
    }
  });

  it('Profile API query strings: oversized, repeated and malformed parameters', async () => {
    const user = uid('query');
    await server.trackOk([{ user_id: user, event_type: 'e', user_properties: { q: 1 } }]);
    const read = async (query) => (await exchange(get(`/v1/userprofile?${query}`, AUTH))).responses[0];
    // Malformed percent-encoding.
    for (const q of [`user_id=${user}%zz`, `user_id=${user}%`, `user_id=${user}%4`]) {
      assert.deepEqual((await read(q)).json, { error: 'malformed query string' }, q);
    }
    // Repeated: the last value of a parameter wins.
    assert.deepEqual((await read(`user_id=nobody-at-all&user_id=${user}`)).json.userData.user_properties, { q: 1 });
    assert.equal((await read(`${'user_id=x&'.repeat(1000)}user_id=${user}`)).status, 200);
    // Oversized values within the 16 KiB request line: a lookup like any other.
    assert.deepEqual(await read(`user_id=${'u'.repeat(15000)}`).then((x) => [x.status, x.json]), [404, { error: 'User id and device id not seen before' }]);
    // Bytes that are no id anywhere: NUL and invalid UTF-8 are looked up, not misread.
    for (const q of ['user_id=%00', 'user_id=%FF%FE%00', 'device_id=%C0%AF']) {
      assert.deepEqual(await read(q).then((x) => [x.status, x.json]), [404, { error: 'User id and device id not seen before' }], q);
    }
    // Typed parameters out of range.
    assert.deepEqual((await read(`user_id=${user}&limit=99999999999999999999`)).json, {
      error: 'limit must be an integer from 1 to 1000, got "99999999999999999999"',
    });
    assert.equal((await read(`user_id=${user}&comp_id=${'1,'.repeat(5000)}x`)).status, 400);
    assert.equal((await read(`user_id=${user}&get_amp_props=${'y'.repeat(5000)}`)).json.error,
      `get_amp_props must be true or false, got "${'y'.repeat(64)}..."`);
    assert.deepEqual((await read('&&&==&=x&%20=1')).json, { error: 'user_id or device_id is required' });
    await assertHealthy();
  });
});

describe('everything at once', () => {
  // A client that behaves: one keep-alive connection (as the SDKs keep), opened before the
  // storm, sending a track and then a profile read of the same user, over and over.
  function wellBehavedClient(stop) {
    const web = TLS ? https : http;
    const agent = new web.Agent({ keepAlive: true, maxSockets: 1 });
    const user = uid('good');
    const latencies = [];
    const failures = [];
    let tracked = 0;
    const call = (method, path, { body, headers = {} } = {}) =>
      new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const req = web.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            const text = Buffer.concat(chunks).toString('utf8');
            let json;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode, headers: res.headers, text, json });
          });
          res.on('error', reject);
        });
        req.setTimeout(WAIT_MS, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
        req.on('error', reject);
        req.end(body);
      });
    let ready;
    const connected = new Promise((resolve) => (ready = resolve));
    const run = (async () => {
      // Connected before the storm: the first request opens the connection.
      const first = await call('GET', '/healthz');
      if (first.status !== 200) failures.push(`healthz ${first.status}`);
      ready();
      while (!stop.done) {
        const body = events([{ user_id: user, event_type: 'tick', user_properties: { $add: { n: 1 } } }]);
        const t = await call('POST', '/2/httpapi', { body, headers: { 'Content-Type': 'application/json' } });
        if (t.status !== 200 || t.json?.code !== 200) failures.push(`track ${t.status} ${t.text}`);
        else tracked++;
        const path = `/v1/userprofile?user_id=${user}`;
        const p = await call('GET', path, { headers: { Authorization: `Api-Key ${SEED.secret_key}` } });
        if (p.status !== 200) failures.push(`read ${p.status} ${p.text}`);
        else {
          checkSeedResponse(path, p);
          if (p.json.userData.user_properties.n !== tracked) failures.push(`read n=${p.json.userData.user_properties.n} after ${tracked} tracks`);
        }
      }
      agent.destroy();
    })();
    return { run, connected, latencies, failures, tracked: () => tracked };
  }

  it('slowloris, a flood and big bodies at once: each handled as alone, and a well-behaved client keeps being served', async () => {
    const stop = { done: false };
    const good = wellBehavedClient(stop);
    await within(good.connected, WAIT_MS, 'the well-behaved client connecting');

    // Connections opened (and served once, so the server counts them) before the flood.
    const served = async () => {
      const conn = await connect();
      const r = await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { conn, count: 1 });
      assert.equal(r.responses[0]?.status, 200);
      return conn;
    };
    const slowHeaders = await Promise.all(Array.from({ length: 6 }, served));
    const slowBodies = await Promise.all(Array.from({ length: 4 }, served));
    const bomb = await gzipBomb();
    const bigBodies = [
      [post('/batch', Buffer.alloc(25 * MiB, 0x20)), 413],
      [post('/batch', bomb, 'Content-Encoding: gzip\r\n'), 413],
      [post('/batch', `{"api_key":"${KEY}","events":[${Array(1000000).fill('{}').join(',')}]}`), 413],
      [post('/batch', `{"a":${'['.repeat(100000)}`), 400],
      [post('/batch', events([{ user_id: uid('storm-big'), event_type: 'e', user_properties: { s: 'x'.repeat(10_000_000) } }])), 200],
      [Buffer.concat([Buffer.from('POST /batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;'), Buffer.alloc(8 * MiB, 'e')]), 400],
    ];
    const bigConns = await Promise.all(bigBodies.map(served));
    const rssStart = memoryMiB();

    const slowHeaderRuns = slowHeaders.map((conn) => trickle(get(`/healthz?pad=${'p'.repeat(120)}`), { conn }));
    const slowUsers = slowBodies.map(() => uid('storm-slow'));
    const slowBodyRuns = slowBodies.map((conn, i) => {
      const body = events([{ user_id: slowUsers[i], event_type: 'e' }]);
      conn.socket.write(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
      return trickle(body, { conn });
    });
    const flood = await Promise.all(Array.from({ length: 2 * MAX_CONNECTIONS }, () => connect()));
    const floodRuns = flood.map((conn) => exchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { conn, count: 1 }));
    const bigRuns = bigBodies.map(([bytes], i) => exchange(bytes, { conn: bigConns[i] }));
    const [headerResults, bodyResults, floodResults, bigResults] = await Promise.all([
      Promise.all(slowHeaderRuns),
      Promise.all(slowBodyRuns),
      Promise.all(floodRuns),
      Promise.all(bigRuns),
    ]);
    const rssPeak = memoryMiB();
    for (const c of flood) c.socket.destroy();
    stop.done = true;
    await within(good.run, WAIT_MS, 'the well-behaved client');

    for (const r of [...headerResults, ...bodyResults]) {
      assert.ok(r.byServer && r.sent < r.total, JSON.stringify({ ...r, text: undefined }));
      assert.equal(responses(Buffer.from(r.text, 'latin1')).length, 1, 'the slow request was answered');
    }
    for (const user of slowUsers) assert.equal((await server.profile({ user_id: user })).status, 404);
    const statuses = floodResults.map((r) => r.responses[0]?.status);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    assert.ok(statuses.filter((s) => s === 503).length >= flood.length - MAX_CONNECTIONS, statuses.join(','));
    for (const r of floodResults.filter((x) => x.responses[0].status === 503)) {
      assert.deepEqual(r.responses[0].json, { code: 503, error: 'too many connections' });
    }
    bigResults.forEach((r, i) => {
      // Each connection's first answer is its warm-up /healthz.
      assert.equal(r.responses[1]?.status, bigBodies[i][1], `big body ${i}: ${r.text.slice(-200)}`);
    });

    // The well-behaved client: every request answered right, throughout.
    assert.deepEqual(good.failures, []);
    assert.ok(good.tracked() > 0);
    const sorted = [...good.latencies].sort((a, b) => a - b);
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1);
    console.log(
      `well-behaved client during the storm: ${sorted.length} requests (${good.tracked()} tracks + reads), all answered 200; ` +
        `latency p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms; ` +
        `server RSS ${rssStart.rss} MiB at the start, ${rssPeak.rss} MiB at the end of the storm`,
    );
    await sleep(300);
    for (let attempt = 0; attempt < 200; attempt++) {
      const r = await exchange(get('/healthz'));
      if (r.responses[0]?.status === 200) break;
      await sleep(50);
    }
    await assertHealthy();
  });
});

describe('memory', () => {
  it('stays bounded: RSS after every hostile case above is within 256 MiB of the start (plus ASan quarantine)', async () => {
    const now = memoryMiB();
    const asan = server.underAsan(); // ASan keeps freed memory in quarantine
    const bound = 256 + (asan ? 256 : 0);
    console.log(
      `server RSS: ${rssBefore.rss} MiB before the hostile cases, ${now.rss} MiB after (growth ${now.rss - rssBefore.rss} MiB, ` +
        `bound ${bound} MiB${asan ? ', ASan build' : ''}); peak ${now.peak} MiB`,
    );
    assert.ok(now.rss - rssBefore.rss < bound, `RSS grew from ${rssBefore.rss} to ${now.rss} MiB`);
  });
});
