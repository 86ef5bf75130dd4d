// Small helpers shared by the benchmark clients (node:http only, no packages).
import fs from 'node:fs';
import http from 'node:http';

const CLK_TCK = 100; // USER_HZ: /proc tick unit, fixed at 100 in the Linux user ABI

// Parses "--name value" / "--name=value" arguments into an object of strings.
export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    let key;
    let value;
    if (eq >= 0) {
      key = a.slice(2, eq);
      value = a.slice(eq + 1);
    } else {
      key = a.slice(2);
      value = argv[++i];
    }
    if (!(key in defaults)) throw new Error(`unknown option --${key}`);
    if (value === undefined) throw new Error(`--${key} needs a value`);
    out[key] = value;
  }
  return out;
}

// One POST over a keep-alive agent; resolves with {status, body} or rejects on a socket error.
export function post(agent, url, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// True when an ingestion answer says the batch was accepted (HTTP 200 and "code":200).
export function accepted(res) {
  if (res.status !== 200) return false;
  try {
    return JSON.parse(res.body).code === 200;
  } catch {
    return false;
  }
}

// Deterministic 32-bit PRNG (mulberry32), so a given user always gets the same values.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pad(n, width) {
  return String(n).padStart(width, '0');
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// A snapshot for cpuShares(): CPU ticks of process `pid` (0 = none), of this process, and
// of the whole machine (busy = user nice system irq softirq; steal), plus the wall clock.
export function cpuSample(pid) {
  const ticks = (statLine) => statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  let server = 0;
  if (pid) {
    const f = ticks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    server = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  }
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const self = process.cpuUsage();
  return {
    wall: performance.now() / 1000,
    server: server / CLK_TCK,
    client: (self.user + self.system) / 1e6,
    busy: (cpu[1] + cpu[2] + cpu[3] + cpu[6] + cpu[7]) / CLK_TCK,
    steal: cpu[8] / CLK_TCK,
    load1: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
  };
}

// CPU use between two cpuSample()s in % of one core, as JSON-ready members.
export function cpuShares(a, b) {
  if (!a) return {};
  const wall = b.wall - a.wall;
  const pct = (x) => Number(((100 * x) / wall).toFixed(1));
  const server = b.server - a.server;
  const client = b.client - a.client;
  return {
    server_cpu_pct: pct(server),
    client_cpu_pct: pct(client),
    others_cpu_pct: pct(Math.max(0, b.busy - a.busy - server - client)),
    steal_pct: pct(b.steal - a.steal),
    load1: a.load1,
  };
}
