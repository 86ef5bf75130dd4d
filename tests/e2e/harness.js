// Test harness: runs the real profiled binary and talks to it over HTTP.
//
// Every server gets a fresh temp directory (config + data), listens on 127.0.0.1 with a
// port the kernel picks, and is killed (and its directory removed) when the test file
// ends, even if a test failed or threw. Tests written with `test`/`it` from this module
// get the server's stderr appended to the failure message.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as nodeTest from 'node:test';
import { openApiProblems } from './openapi.js';
import { validateSeedProfile } from './seed-schema.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// The binary under test: PROFILED_BIN (run.sh sets it), else the default build.
export const BIN = path.resolve(process.env.PROFILED_BIN || path.join(here, '../../build/profiled'));
if (!fs.existsSync(BIN)) {
  throw new Error(`profiled binary not found at ${BIN}; set PROFILED_BIN`);
}

// ASan builds start and answer more slowly; keep timeouts generous but finite.
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 30000;

// Default project set: a seed-dialect and an amplitude-dialect project.
// HTTPS mode (PROFILED_E2E_TLS=1 to run.sh, which makes a test CA and a certificate for
// 127.0.0.1 in PROFILED_E2E_TLS_DIR and trusts the CA through NODE_EXTRA_CA_CERTS, so the SDKs
// and request() verify the server as a real client would): every config configToml writes
// serves HTTPS, and every Server's base URL is https. null otherwise.
export const TLS = process.env.PROFILED_E2E_TLS_DIR
  ? {
      cert: path.join(process.env.PROFILED_E2E_TLS_DIR, 'server.pem'),
      key: path.join(process.env.PROFILED_E2E_TLS_DIR, 'server.key'),
      ca: path.join(process.env.PROFILED_E2E_TLS_DIR, 'ca.pem'),
    }
  : null;

export const SEED = { id: 'seedproj', api_key: 'seed-api-key', secret_key: 'seed-secret-key', profile_dialect: 'seed' };
export const AMP = { id: 'ampproj', api_key: 'amp-api-key', secret_key: 'amp-secret-key', profile_dialect: 'amplitude' };

const live = new Set(); // servers whose process may still run or whose dir still exists
const tempDirs = new Set();

function removeDir(dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort; a leftover temp dir must not fail the run
  }
  if (tempDirs.delete(dir)) tellWatchdog(`-d${dir}`);
}

// Last line of defence: nothing we started outlives the test process.
function killAll() {
  for (const s of live) {
    if (s.proc && s.proc.exitCode === null && s.proc.signalCode === null) {
      try {
        s.proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const d of [...tempDirs]) removeDir(d);
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

// If this process dies without running its exit handlers (SIGKILL, a runner that
// kills its children hard), a detached watchdog still kills our servers and removes
// our temp dirs: it holds a pipe from us and acts when the pipe closes.
// It also stops the Redis Clusters of startRedisCluster (waiting first for a start still
// running, which would otherwise start nodes after the stop) and removes their dirs.
const REDIS_CLUSTER_SH = path.resolve(here, '../../scripts/redis-cluster.sh');
const WATCHDOG = `
const fs = require('fs');
const { spawnSync } = require('child_process');
const pids = new Set();
const dirs = new Set();
const clusterDirs = new Set();
const waitPids = new Set();
const sets = { p: pids, d: dirs, c: clusterDirs, w: waitPids };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const set = sets[line[1]];
    if (line[0] === '+') set.add(line.slice(2)); else set.delete(line.slice(2));
  }
});
const cleanup = () => {
  for (const p of pids) { try { process.kill(Number(p), 'SIGKILL'); } catch {} }
  // (a zombie counts as gone: an orphan may never be reaped here)
  const running = (p) => {
    try {
      const st = fs.readFileSync('/proc/' + p + '/stat', 'utf8');
      return st[st.lastIndexOf(')') + 2] !== 'Z';
    } catch { return false; }
  };
  for (const p of waitPids) {
    const end = Date.now() + 120000;
    while (running(p) && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
  for (const d of clusterDirs) {
    spawnSync('bash', [${JSON.stringify(REDIS_CLUSTER_SH)}, 'stop', d], { stdio: 'ignore', timeout: 60000 });
    dirs.add(d);
  }
  for (const d of dirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
  process.exit(0);
};
process.stdin.on('end', cleanup);
process.stdin.on('error', cleanup);
`;
let watchdog = null;
function tellWatchdog(line) {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    watchdog.unref();
    watchdog.stdin.on('error', () => {});
    watchdog.stdin.unref?.();
  }
  watchdog.stdin.write(`${line}\n`);
}

export function makeTempDir(prefix = 'profiled-e2e-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  tellWatchdog(`+d${dir}`);
  return dir;
}

function tomlString(s) {
  return JSON.stringify(String(s));
}

// Builds a config file's text. `projects` is a list of {id, api_key, secret_key, secret_keys,
// profile_dialect, events_per_second, profile_reads_per_minute} (secret_key may be left out
// when secret_keys is given); `definitionLimits` adds [definitions] keys (max_cohorts, ...);
// `throttle` and `throttleWindow` set ingest.throttle_events_per_second and _window_seconds;
// `server` adds [server] keys (limits and timeouts).
export function configToml({
  dataDir,
  projects = [SEED, AMP],
  durability = 'fsync',
  throttle = 0,
  throttleWindow = 1,
  threads = 2,
  adminToken = 'e2e-admin-token',
  clockControl = false,
  testing = {}, // more [testing] keys, e.g. {backfill_chunk_events: 10}
  storage = {}, // more [storage] keys, e.g. the storage() of a startRedisCluster()
  server = {}, // more [server] keys, e.g. {max_connections: 8, read_timeout_ms: 1000}
  definitionLimits = {}, // [definitions] keys, e.g. {max_cohorts: 2}
  tls = TLS, // {cert, key}: serve HTTPS with them (TLS: the HTTPS mode's)
  privacy = {}, // [privacy] keys, e.g. {staging_minutes: 60}
  console: consoleKeys = {}, // [console] keys, e.g. {rate_sample_seconds: 1}
} = {}) {
  const lines = [
    `admin_token = ${tomlString(adminToken)}`,
    '',
    '[server]',
    'listen = "127.0.0.1:0"',
    `threads = ${threads}`,
    ...(tls ? [`tls_cert = ${tomlString(tls.cert)}`, `tls_key = ${tomlString(tls.key)}`] : []),
    ...Object.entries(server).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    '',
    '[storage]',
    `path = ${tomlString(dataDir)}`,
    `durability = ${tomlString(durability)}`,
    ...Object.entries(storage).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    '',
    '[ingest]',
    `throttle_events_per_second = ${throttle}`,
    // A one-second window (the default here) keeps the throttling tests small: the limit is
    // then the rate.
    `throttle_window_seconds = ${throttleWindow}`,
  ];
  if (Object.keys(definitionLimits).length > 0) {
    lines.push('', '[definitions]');
    for (const [k, v] of Object.entries(definitionLimits)) lines.push(`${k} = ${JSON.stringify(v)}`);
  }
  if (Object.keys(privacy).length > 0) {
    lines.push('', '[privacy]');
    for (const [k, v] of Object.entries(privacy)) lines.push(`${k} = ${JSON.stringify(v)}`);
  }
  if (Object.keys(consoleKeys).length > 0) {
    lines.push('', '[console]');
    for (const [k, v] of Object.entries(consoleKeys)) lines.push(`${k} = ${JSON.stringify(v)}`);
  }
  const testingKeys = { ...(clockControl ? { clock_control: true } : {}), ...testing };
  if (Object.keys(testingKeys).length > 0) {
    lines.push('', '[testing]');
    for (const [k, v] of Object.entries(testingKeys)) lines.push(`${k} = ${JSON.stringify(v)}`);
  }
  for (const p of projects) {
    lines.push('', '[[projects]]');
    lines.push(`id = ${tomlString(p.id)}`);
    lines.push(`api_key = ${tomlString(p.api_key)}`);
    if (p.secret_key !== undefined) lines.push(`secret_key = ${tomlString(p.secret_key)}`);
    if (p.secret_keys) lines.push(`secret_keys = [${p.secret_keys.map(tomlString).join(', ')}]`);
    if (p.profile_dialect) lines.push(`profile_dialect = ${tomlString(p.profile_dialect)}`);
    if (p.definitions) lines.push(`definitions = ${tomlString(p.definitions)}`);
    for (const k of ['events_per_second', 'profile_reads_per_minute']) {
      if (p[k] !== undefined) lines.push(`${k} = ${p[k]}`);
    }
  }
  return lines.join('\n') + '\n';
}

export class Server {
  constructor({ dir, configPath, dataDir, args }) {
    this.dir = dir;
    this.configPath = configPath;
    this.dataDir = dataDir;
    this.args = args;
    this.proc = null;
    this.port = 0;
    this.base = '';
    this.logs = ''; // stderr and stdout of every run of this server, in order
    this.stderr = ''; // stderr alone, of every run
    this.stdout = ''; // stdout alone, of every run
    this.exit = null; // {code, signal} of the last run, once it ended
    live.add(this);
  }

  // Spawns the binary and resolves once it logs `listening on 127.0.0.1:PORT`.
  async launch() {
    this.exit = null;
    const proc = spawn(BIN, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    tellWatchdog(`+p${proc.pid}`);
    proc.on('exit', () => tellWatchdog(`-p${proc.pid}`));
    this.logs += `--- ${BIN} ${this.args.join(' ')}\n`;
    let pending = '';
    let onLine = null;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      this.logs += chunk;
      this.stderr += chunk;
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (onLine) onLine(line);
      }
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      this.logs += chunk;
      this.stdout += chunk;
    });
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`profiled did not log "listening on" within ${START_TIMEOUT_MS} ms\n${this.logs}`));
      }, START_TIMEOUT_MS);
      onLine = (line) => {
        const m = /listening on 127\.0\.0\.1:(\d+)( https)?/.exec(line);
        if (m) {
          clearTimeout(timer);
          this.https = m[2] !== undefined;
          resolve(Number(m[1]));
        }
      };
      this.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`profiled exited (code ${e.code}, signal ${e.signal}) before listening\n${this.logs}`));
      });
    });
    onLine = null;
    this.port = port;
    PROFILED_PORTS.add(port);
    this.base = `${this.https ? 'https' : 'http'}://127.0.0.1:${port}`;

    return this;
  }

  running() {
    return this.proc !== null && this.exit === null;
  }

  // The process's resident memory from /proc/<pid>/status, in KiB: {rssKb (VmRSS), peakKb
  // (VmHWM, the most it has held since it started)}.
  memory() {
    const status = fs.readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
  }

  // Whether the running process is an AddressSanitizer build: slower, and it keeps freed
  // memory in quarantine (256 MiB by default) before reusing it. GCC's runtime is a shared
  // libasan; clang links its own in, but either reserves terabytes of shadow memory.
  underAsan() {
    try {
      if (/libasan/.test(fs.readFileSync(`/proc/${this.proc.pid}/maps`, 'utf8'))) return true;
      const vmKb = Number(/^VmSize:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${this.proc.pid}/status`, 'utf8'))?.[1] ?? 0);
      return vmKb > 2 ** 30; // over 1 TiB of address space
    } catch {
      return false;
    }
  }

  // SIGTERM and wait for the exit; returns {code, signal}.
  async stop() {
    if (!this.running()) return this.exit;
    this.proc.kill('SIGTERM');
    return this.waitExit();
  }

  // SIGKILL and wait for the exit.
  async kill9() {
    if (!this.running()) return this.exit;
    this.proc.kill('SIGKILL');
    return this.waitExit();
  }

  async waitExit() {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        if (this.running()) this.proc.kill('SIGKILL');
        reject(new Error(`profiled did not exit within ${STOP_TIMEOUT_MS} ms\n${this.logs}`));
      }, STOP_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Replaces the config file the server was started with by `text` ({{DATA}} stands for the
  // data dir); the server reads it at its next SIGHUP (signal()) or restart.
  rewriteConfig(text) {
    fs.writeFileSync(this.configPath, text.replaceAll('{{DATA}}', this.dataDir));
  }

  // Sends `sig` (e.g. 'SIGHUP') to the running process.
  signal(sig) {
    if (!this.running()) throw new Error(`signal(${sig}): the server is not running`);
    this.proc.kill(sig);
  }

  // Starts the binary again with the same config and data dir (stop or kill9 first).
  async restart() {
    if (this.running()) throw new Error('restart() needs the server stopped first');
    return this.launch();
  }

  // Kills the process if needed and removes the temp dir.
  async dispose() {
    if (this.running()) await this.kill9().catch(() => {});
    removeDir(this.dir);
    live.delete(this);
  }

  // ---- HTTP helpers bound to this server ----
  // Every 2xx answer to GET /v1/userprofile for a seed-dialect project is checked against
  // the seed OpenAPI document's schema here; a mismatch fails the calling test.
  async request(method, pathAndQuery, opts = {}) {
    const res = await request(this.base + pathAndQuery, { method, ...opts });
    if (method === 'GET' && /^\/v1\/userprofile(\?|$)/.test(pathAndQuery) && res.status >= 200 && res.status < 300) {
      const secret = /^\s*api-key\s+(.*?)\s*$/i.exec(headerValue(opts.headers, 'authorization') ?? '')?.[1];
      if (this.dialectOf(secret) === 'seed') checkSeedResponse(pathAndQuery, res);
    }
    return res;
  }

  // The profile_dialect of the project whose secret_key is `secret`, read from the config
  // this server runs with ("seed" when the project does not set it; the demo project
  // without --config is seed too); undefined for an unknown key.
  dialectOf(secret) {
    if (!this.args.includes('--config')) return secret === 'demo-secret-key' ? 'seed' : undefined;
    return projectsOf(fs.readFileSync(this.configPath, 'utf8')).find((p) => p.secret_key === secret || p.secret_keys?.includes(secret))?.profile_dialect;
  }

  // POST /2/httpapi (or opts.path) with {api_key, events, options?}; returns the response.
  track(events, { apiKey = SEED.api_key, options, path: p = '/2/httpapi', headers } = {}) {
    const body = { api_key: apiKey, events };
    if (options !== undefined) body.options = options;
    return this.request('POST', p, { json: body, headers });
  }

  // Like track() but asserts a 200 answer with the documented body; returns the body.
  async trackOk(events, opts) {
    const res = await this.track(events, opts);
    if (res.status !== 200 || !res.json || res.json.code !== 200) {
      throw new Error(`ingest expected 200, got ${res.status}: ${res.text}`);
    }
    return res.json;
  }

  // GET /v1/userprofile with `Authorization: Api-Key <secret>`.
  profile(params, { secret = SEED.secret_key, headers = {} } = {}) {
    const qs = new URLSearchParams(params).toString();
    return this.request('GET', `/v1/userprofile?${qs}`, {
      headers: { Authorization: `Api-Key ${secret}`, ...headers },
    });
  }

  // The userData of a profile that must exist.
  async userData(params, opts) {
    const res = await this.profile(params, opts);
    if (res.status !== 200) throw new Error(`profile ${JSON.stringify(params)} expected 200, got ${res.status}: ${res.text}`);
    return res.json.userData;
  }

  // A call of the admin API (/admin/v1/...) with the e2e admin token; returns the response.
  admin(method, pathAndQuery, json, { token = 'e2e-admin-token' } = {}) {
    const headers = token === null ? {} : { Authorization: `Bearer ${token}` };
    return this.request(method, `/admin/v1${pathAndQuery}`, { headers, json });
  }

  // Like admin() but asserts a 2xx answer; returns the JSON body.
  async adminOk(method, pathAndQuery, json) {
    const res = await this.admin(method, pathAndQuery, json);
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`admin ${method} ${pathAndQuery} expected 2xx, got ${res.status}: ${res.text}`);
    }
    return res.json;
  }

  // Moves the server's clock to now + offsetMs (needs clockControl in the config).
  async setClockOffset(offsetMs) {
    return this.adminOk('PUT', '/testing/clock', { offset_ms: offsetMs });
  }

  async metrics() {
    const res = await this.request('GET', '/metrics');
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return parseMetrics(res.text);
  }
}

// ---- seed-dialect schema checks ----

// How many seed-dialect responses this process has validated (seed-schema.test.js checks
// that the hook runs).
export const seedChecks = { validated: 0 };

export function checkSeedResponse(what, res) {
  const problems = [];
  if (!/^application\/json\b/.test(res.headers['content-type'] ?? '')) problems.push(`content-type is ${res.headers['content-type']}`);
  if (res.json === undefined) problems.push('the body is not JSON');
  else problems.push(...validateSeedProfile(res.json));
  if (problems.length > 0) {
    throw new Error(`seed-dialect response to GET ${what} does not match the seed OpenAPI schema:\n  ${problems.join('\n  ')}\nbody: ${res.text}`);
  }
  seedChecks.validated++;
}

function headerValue(headers = {}, name) {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
}

// The [[projects]] of a config's text: [{id, api_key, secret_key, secret_keys, profile_dialect}],
// with the default dialect filled in. Reads only the simple `key = "string"` lines the tests
// write, and `secret_keys = ["...", ...]` on one line.
export function projectsOf(toml) {
  const projects = [];
  let current = null;
  for (const raw of toml.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      current = line === '[[projects]]' ? { profile_dialect: 'seed' } : null;
      if (current) projects.push(current);
      continue;
    }
    const m = /^(id|api_key|secret_key|profile_dialect)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*')/.exec(line);
    if (current && m) current[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2].slice(1, -1);
    const keys = /^secret_keys\s*=\s*(\[.*\])\s*$/.exec(line);
    if (current && keys) current.secret_keys = JSON.parse(keys[1]);
  }
  return projects;
}

// Starts a server with a generated config in a fresh temp dir.
//   projects, durability, throttle, threads, testing, storage: see configToml
//   config: raw TOML text instead of the generated one (use {{DATA}} for the data dir)
//   args: replaces the default command line (after the binary)
export async function startServer(opts = {}) {
  const dir = makeTempDir();
  const dataDir = path.join(dir, 'data');
  const configPath = path.join(dir, 'profiled.toml');
  const text = opts.config !== undefined ? opts.config.replaceAll('{{DATA}}', dataDir) : configToml({ ...opts, dataDir });
  fs.writeFileSync(configPath, text);
  const args = opts.args || ['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir];
  const server = new Server({ dir, configPath, dataDir, args });
  try {
    await server.launch();
  } catch (e) {
    await server.dispose();
    throw e;
  }
  return server;
}

// ---- a local Redis Cluster for the redis-cluster backend ----

// Runs a command without blocking the event loop: resolves to {code, signal, stdout, stderr}
// once its output is all read (code null when it could not start); killed after timeoutMs.
// `onSpawn(pid)` is called once it runs.
export function runAsync(cmd, args, { env, timeoutMs = 120000, onSpawn } = {}) {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    if (onSpawn && proc.pid) onSpawn(proc.pid);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e) });
    });
    // 'close' (not 'exit'): the pipes are drained by then.
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// 3 primaries and 3 replicas of redis-server, started by scripts/redis-cluster.sh in a temp dir.
// dispose() stops them and removes the dir. If this process dies first, the harness watchdog
// does both (after a start still under way has finished), and the script's own --owner
// watcher stops the nodes too.
export class RedisCluster {
  constructor(dir, password) {
    this.dir = dir;
    this.password = password;
    this.nodes = []; // "127.0.0.1:port", every node, from DIR/nodes.txt
  }

  // The [storage] keys of a profiled node on this cluster (configToml's `storage`).
  storage(extra = {}) {
    return { backend: 'redis-cluster', redis_nodes: this.nodes, redis_password: this.password, ...extra };
  }

  async script(...args) {
    let pid = 0;
    const r = await runAsync('bash', [REDIS_CLUSTER_SH, ...args], {
      onSpawn: (p) => {
        pid = p;
        tellWatchdog(`+w${p}`);
      },
    });
    if (pid) tellWatchdog(`-w${pid}`);
    if (r.code !== 0) throw new Error(`redis-cluster.sh ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r;
  }

  async start() {
    const args = ['start', this.dir, '--owner', String(process.pid)];
    if (this.password) args.push('--password', this.password);
    await this.script(...args);
    this.nodes = fs.readFileSync(path.join(this.dir, 'nodes.txt'), 'utf8').split('\n').filter(Boolean);
    return this;
  }

  // Stops every node (SIGTERM); their config, cluster state and data stay for restart().
  async stop() {
    await this.script('stop', this.dir);
  }

  // Starts the same nodes again (same ports, nodes.conf and append-only files: the same
  // cluster with the same data) and waits, as `start` does, until every node says
  // cluster_state:ok and every replica's link to its primary is up.
  async restart() {
    const nodeDirs = fs.readdirSync(this.dir).filter((n) => /^node-\d+$/.test(n));
    for (const n of nodeDirs) {
      const r = await runAsync('redis-server', [path.join(this.dir, n, 'redis.conf')]);
      if (r.code !== 0) throw new Error(`redis-server ${this.dir}/${n}/redis.conf exited ${r.code}: ${r.stderr}`);
    }
    const env = this.password ? { REDISCLI_AUTH: this.password } : undefined;
    const deadline = Date.now() + 60000;
    for (;;) {
      let ok = true;
      for (const node of this.nodes) {
        const [host, port] = node.split(':');
        const cli = (...args) => runAsync('redis-cli', ['--no-auth-warning', '-h', host, '-p', port, ...args], { env });
        const info = await cli('cluster', 'info');
        if (info.code !== 0 || !/^cluster_state:ok/m.test(info.stdout)) ok = false;
        const repl = await cli('info', 'replication');
        if (repl.code !== 0 || (/^role:slave/m.test(repl.stdout) && !/^master_link_status:up/m.test(repl.stdout))) ok = false;
      }
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`the restarted cluster in ${this.dir} is not ready after 60 s`);
      await sleep(200);
    }
  }

  // Empties every primary (FLUSHALL; the replicas follow), for new nodes on the same cluster.
  async flush() {
    const env = this.password ? { REDISCLI_AUTH: this.password } : undefined;
    for (const node of this.nodes) {
      const [host, port] = node.split(':');
      const cli = (...args) => runAsync('redis-cli', ['--no-auth-warning', '-h', host, '-p', port, ...args], { env });
      const role = await cli('role');
      if (role.code !== 0) throw new Error(`redis-cli -p ${port} role exited ${role.code}: ${role.stderr}`);
      if (role.stdout.split('\n')[0].trim() !== 'master') continue;
      const r = await cli('flushall');
      if (r.code !== 0 || r.stdout.trim() !== 'OK') throw new Error(`FLUSHALL on ${node}: ${r.stdout}${r.stderr}`);
    }
  }

  async dispose() {
    await this.stop();
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
    tellWatchdog(`-c${this.dir}`);
  }
}

// Starts a local Redis Cluster (scripts/redis-cluster.sh start --owner <this process>) in a
// fresh temp dir; `password` sets requirepass. Call dispose() when done.
export async function startRedisCluster({ password = '' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'profiled-redis-'));
  tellWatchdog(`+c${dir}`);
  const cluster = new RedisCluster(dir, password);
  try {
    await cluster.start();
  } catch (e) {
    await cluster.dispose().catch(() => {});
    throw e;
  }
  return cluster;
}

// Runs the binary to completion (for --help and bad configs); returns {code, signal, stdout, stderr}.
export function runBinary(args, { timeoutMs = 20000 } = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// Runs the binary without blocking the event loop (a server started by this process keeps
// draining its output meanwhile): resolves to {code, signal, stdout, stderr} once its output
// is all read (code null when it could not start); killed after timeoutMs.
export function runBinaryAsync(args, { timeoutMs = 60000 } = {}) {
  return runAsync(BIN, args, { timeoutMs });
}

// ---- HTTP ----

// Ports of every profiled server started here: request() checks their answers against
// docs/openapi.json (openapi.js).
const PROFILED_PORTS = new Set();

// request(url, {method, headers, body, json}) -> {status, headers, text, json, body(Buffer)}
// An answer from a profiled server that differs from docs/openapi.json rejects, naming how.
// One connection per request (no keep-alive), so a killed server leaves no stale sockets.
// An https URL is verified against the CAs Node trusts (the test CA in HTTPS mode), or `ca`.
export function request(url, { method = 'GET', headers = {}, body, json, ca } = {}) {
  const u = new URL(url);
  const hdrs = { ...headers };
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    if (!Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) hdrs['Content-Type'] = 'application/json';
  }
  if (payload !== undefined && !Buffer.isBuffer(payload)) payload = Buffer.from(payload);
  if (payload !== undefined && !Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-length')) {
    hdrs['Content-Length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: hdrs, agent: false, ...(ca ? { ca } : {}) },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          const text = buf.toString('utf8');
          let parsed;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (PROFILED_PORTS.has(Number(u.port))) {
            const problems = openApiProblems(method, u.pathname, res.statusCode, res.headers['content-type'], text);
            if (problems.length > 0) {
              reject(new Error(`the answer differs from docs/openapi.json:\n${problems.join('\n')}`));
              return;
            }
          }
          resolve({ status: res.statusCode, headers: res.headers, body: buf, text, json: parsed });
        });
      },
    );
    req.setTimeout(60000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// Sends one request over a raw socket and reads until the server closes or a complete
// response arrives. Unlike node:http it does not give up when the server stops reading
// the body early (EPIPE): it still returns whatever answer the server sent.
// Returns {status, headers, text, json} or {error} when no answer arrived at all.
export function rawRequest(url, { method = 'POST', headers = {}, body = Buffer.alloc(0) } = {}) {
  const u = new URL(url);
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body);
  let head = `${method} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n`;
  const lower = Object.keys(headers).map((k) => k.toLowerCase());
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (!lower.includes('content-length')) head += `Content-Length: ${payload.length}\r\n`;
  head += '\r\n';
  return new Promise((resolve) => {
    const sock =
      u.protocol === 'https:'
        ? tls.connect({ host: u.hostname, port: Number(u.port) })
        : net.connect({ host: u.hostname, port: Number(u.port) });
    const chunks = [];
    let writeError = null;
    let done = false;
    const finish = (readError) => {
      if (done) return;
      done = true;
      sock.destroy();
      const buf = Buffer.concat(chunks);
      const parsed = parseRawResponse(buf);
      if (parsed) resolve(parsed);
      else resolve({ error: readError || writeError || new Error('connection closed without a response'), raw: buf.toString('latin1') });
    };
    sock.setTimeout(60000, () => finish(new Error('timeout')));
    sock.on('data', (c) => {
      chunks.push(c);
      const parsed = parseRawResponse(Buffer.concat(chunks));
      if (parsed) finish();
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (e) => {
      if (e.code === 'EPIPE') {
        writeError = e; // keep reading: the answer may already be on its way
      } else {
        finish(e);
      }
    });
    sock.on(u.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      sock.write(head);
      sock.write(payload, (e) => {
        if (e) writeError = e;
      });
    });
  });
}

function parseRawResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const headText = buf.subarray(0, end).toString('latin1');
  const [statusLine, ...headerLines] = headText.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) return null;
  const headers = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = Number(headers['content-length'] ?? 0);
  const bodyBuf = buf.subarray(end + 4);
  if (bodyBuf.length < len) return null;
  const text = bodyBuf.subarray(0, len).toString('utf8');
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(m[1]), headers, text, json };
}

// Parses Prometheus text into a Map of `name{labels}` -> number.
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

// Form body for /identify.
export function formBody(fields) {
  return new URLSearchParams(fields).toString();
}

// A unique id with a readable prefix; always at least 5 characters.
let counter = 0;
export function uid(prefix = 'id') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Epoch ms of a UTC calendar day at noon, and its YYYY-MM-DD form.
export function dayMs(y, m, d) {
  return Date.UTC(y, m - 1, d, 12, 0, 0);
}

// ---- tests with server logs on failure ----

// Appends the stderr of every server still known to the harness to a failing test's
// error, so the cause is visible in the test report.
function withLogs(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (e) {
      const logs = [...live].map((s) => `--- server stderr (${s.dir}) ---\n${s.logs}`).join('\n');
      if (logs && e && typeof e === 'object') {
        // The reporter prints `stack` (which embeds the message as it was when thrown).
        try {
          e.message = `${e.message}\n${logs}`;
          e.stack = `${e.stack}\n${logs}`;
        } catch {
          console.error(logs);
        }
      }
      throw e;
    }
  };
}

export function test(name, optsOrFn, maybeFn) {
  if (typeof optsOrFn === 'function') return nodeTest.test(name, withLogs(optsOrFn));
  return nodeTest.test(name, optsOrFn, withLogs(maybeFn));
}
export const it = test;
export const { describe, before, after, beforeEach, afterEach } = nodeTest;

// Inside a describe(): one server for the whole block, disposed after it.
// Returns a holder whose `.server` is set once `before` has run.
//
// With PROFILED_E2E_PAIR=1 in the environment (make test-pair), a block that asks for no
// storage, config or command line of its own gets two servers on one Redis Cluster instead,
// behind a PairServer: everything is sent to node A and every profile read goes to node B, so
// the block's assertions check what issue 8 promises, that what one node acknowledged is what
// the other reads. The blocks of a file take turns on one cluster, emptied for each block.
export const PAIR_MODE = process.env.PROFILED_E2E_PAIR === '1';

// A local Redis Cluster (`clusterOpts`: startRedisCluster's) and two servers on it, each started
// with `opts` (see startServer) plus the cluster's storage keys: {cluster, a, b, dispose()}.
// The nodes share nothing but the cluster. With `cluster` given, the nodes start on that one
// (which dispose() leaves running).
export async function startNodePair(opts = {}, clusterOpts = {}, cluster = null) {
  const own = cluster === null;
  const c = own ? await startRedisCluster(clusterOpts) : cluster;
  const both = { ...opts, storage: c.storage() };
  const [a, b] = await Promise.all([startServer(both), startServer(both)]).catch(async (e) => {
    if (own) await c.dispose();
    throw e;
  });
  return {
    cluster: c,
    a,
    b,
    async dispose() {
      await Promise.all([a.dispose(), b.dispose()]);
      if (own) await c.dispose();
    },
  };
}

// Pair mode: the cluster the sharedServer blocks of this file take turns on (a promise), started
// by the first block and stopped after the file's last test.
let pairCluster = null;
if (PAIR_MODE) {
  nodeTest.after(async () => {
    if (pairCluster !== null) await (await pairCluster).dispose();
  });
}

// An empty cluster for the next block's nodes (the last block's are gone by then).
async function emptyPairCluster() {
  if (pairCluster === null) {
    pairCluster = startRedisCluster();
    return pairCluster;
  }
  const cluster = await pairCluster;
  await cluster.flush();
  return cluster;
}

export function sharedServer(opts = {}) {
  const holder = { server: null };
  const pair = PAIR_MODE && opts.storage === undefined && opts.config === undefined && opts.args === undefined;
  let nodes = null;
  nodeTest.before(async () => {
    if (!pair) {
      holder.server = await startServer(opts);
      // HTTPS mode must not pass by testing plain HTTP (a config not written by configToml,
      // which adds the certificate).
      if (TLS && !holder.server.https) throw new Error(`HTTPS mode, but the shared server serves plain HTTP`);
      return;
    }
    nodes = await startNodePair(opts, {}, await emptyPairCluster());
    holder.server = new PairServer(nodes.a, nodes.b);
  });
  nodeTest.after(async () => {
    if (nodes) await nodes.dispose();
    else if (holder.server) await holder.server.dispose();
  });
  return holder;
}

// How long a profile read through b waits at most, after a change through a, for b to report
// the project's definitions as a does (b polls them every 500 ms: docs/SCALING.md, "Definitions
// on the cluster"); then the read fails, showing both.
const PAIR_SETTLE_TIMEOUT_MS = 30000;
// b loads a model it reports as newly trained right after, in the same poll (docs/SCALING.md,
// "Recommendations on the cluster"), and nothing shows when the load has ended: a read waits
// this long once b first reports a training.
const PAIR_MODEL_LOAD_MS = 500;

// What a node reports of a project's definitions (the admin API's lists of each kind), as text
// to compare. A training's progress is left out: the node that trains has its own, the others
// the last one stored.
async function definitionsView(server, project, token) {
  const lists = await Promise.all(['computations', 'cohorts', 'recommendations'].map(async (kind) => {
    const res = await server.admin('GET', `/projects/${encodeURIComponent(project)}/${kind}`, undefined, { token });
    if (res.status !== 200) throw new Error(`GET the ${kind} of ${project} on ${server.base}: ${res.status} ${res.text}`);
    return res.json[kind];
  }));
  for (const r of lists[2]) delete r.training?.progress;
  return {
    text: JSON.stringify(lists),
    // The trainings it reports, to tell when a new one shows.
    trained: JSON.stringify(lists[2].filter((r) => r.training?.last_trained_at).map((r) => [r.id, r.training.trainings, r.training.last_trained_at])),
  };
}

// Two servers on one store, used as one: requests go to `a`, profile reads (GET
// /v1/userprofile) to `b`. `base` is a's, so SDKs send to a. The clock moves on both; logs
// are both servers'. Stopping or restarting it is not supported.
export class PairServer extends Server {
  constructor(a, b) {
    super({ dir: a.dir, configPath: a.configPath, dataDir: a.dataDir, args: a.args });
    live.delete(this); // a and b are in `live` themselves
    this.a = a;
    this.b = b;
    this.port = a.port;
    this.base = a.base;
    const toml = fs.readFileSync(a.configPath, 'utf8');
    this.projects = projectsOf(toml);
    this.adminToken = JSON.parse(/^admin_token\s*=\s*("(?:[^"\\]|\\.)*")/m.exec(toml)?.[1] ?? '"e2e-admin-token"');
    // Projects whose definitions a may have changed since b last reported them as a did: the
    // project -> a number that moves with each change (a change during a settle keeps it).
    this.pending = new Map();
    this.changes = 0;
    this.trained = new Map(); // project -> the trainings b reported at the project's last settle
  }

  get logs() {
    return `${this.a?.logs ?? ''}${this.b?.logs ?? ''}`;
  }

  set logs(_) {
    // the Server constructor sets it; the nodes keep their own
  }

  running() {
    return this.a.running() && this.b.running();
  }

  // A definition changed through a reaches b within about a second (b polls every 500 ms:
  // docs/SCALING.md, "Definitions on the cluster"; so do trained models), so a profile read
  // that follows a change first waits until b reports the project's definitions as a does.
  async request(method, pathAndQuery, opts = {}) {
    if (method === 'GET' && /^\/v1\/userprofile(\?|$)/.test(pathAndQuery)) {
      const secret = /^\s*api-key\s+(.*?)\s*$/i.exec(headerValue(opts.headers, 'authorization') ?? '')?.[1];
      const project = this.projects.find((p) => p.secret_key === secret || p.secret_keys?.includes(secret))?.id;
      if (this.pending.has(project)) await this.settle(project);
      return this.b.request(method, pathAndQuery, opts);
    }
    const res = await this.a.request(method, pathAndQuery, opts);
    // Any 2xx of the admin or cohort API: a change, or a GET that saw one take effect on a
    // (a backfill done, a model trained) that b may not have polled yet.
    if (res.status >= 200 && res.status < 300) {
      const project = this.projectChanged(pathAndQuery, opts);
      if (project !== undefined) this.pending.set(project, ++this.changes);
    }
    return res;
  }

  // The project whose definitions a request of the admin or cohort API may concern: the one in
  // the admin path, or the one whose api_key the cohort API's Basic credentials name.
  projectChanged(pathAndQuery, opts) {
    const admin = /^\/admin\/v1\/projects\/([^/?]+)/.exec(pathAndQuery);
    if (admin) return decodeURIComponent(admin[1]);
    if (!/^\/api\/3\/cohorts/.test(pathAndQuery)) return undefined;
    const basic = /^\s*basic\s+(\S+)/i.exec(headerValue(opts.headers, 'authorization') ?? '')?.[1];
    const apiKey = basic === undefined ? undefined : Buffer.from(basic, 'base64').toString('utf8').split(':')[0];
    return this.projects.find((p) => p.api_key === apiKey)?.id;
  }

  // Waits until b reports `project`'s definitions (and trainings) as a does.
  async settle(project) {
    const mark = this.pending.get(project);
    const deadline = Date.now() + PAIR_SETTLE_TIMEOUT_MS;
    for (;;) {
      const [va, vb] = await Promise.all([
        definitionsView(this.a, project, this.adminToken),
        definitionsView(this.b, project, this.adminToken),
      ]);
      if (va.text === vb.text) {
        if (vb.trained !== (this.trained.get(project) ?? '[]')) {
          this.trained.set(project, vb.trained);
          await sleep(PAIR_MODEL_LOAD_MS);
        }
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`node B does not report the definitions of ${project} as node A does ${PAIR_SETTLE_TIMEOUT_MS} ms after a change:\nA: ${va.text}\nB: ${vb.text}`);
      }
      await sleep(20);
    }
    if (this.pending.get(project) === mark) this.pending.delete(project);
  }

  // Both nodes' metrics, summed: ingestion is counted on a, profile reads on b.
  async metrics() {
    const [ma, mb] = await Promise.all([this.a.metrics(), this.b.metrics()]);
    for (const [k, v] of mb) ma.set(k, (ma.get(k) ?? 0) + v);
    return ma;
  }

  async setClockOffset(offsetMs) {
    await this.b.adminOk('PUT', '/testing/clock', { offset_ms: offsetMs });
    return this.a.adminOk('PUT', '/testing/clock', { offset_ms: offsetMs });
  }
}
