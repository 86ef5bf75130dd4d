// The console's user lookup (GET /admin/v1/projects/{p}/users): how fast its scan of the event
// log goes (docs/API.md, "Console API"). Loads N small events of 1,000 users through
// /2/httpapi into a fresh server (RocksDB, or with BENCH_SCAN_BACKEND=redis-cluster a local
// Redis Cluster), then looks a user up over the whole log three times and prints the entries
// scanned per second. Run from the repository: PROFILED_BIN=build/profiled node bench/console_scan.mjs
import { SEED, startRedisCluster, startServer } from '../tests/e2e/harness.js';

const N = Number(process.env.BENCH_SCAN_EVENTS || 500000);
const redis = process.env.BENCH_SCAN_BACKEND === 'redis-cluster';
const cluster = redis ? await startRedisCluster() : null;
const server = await startServer(redis ? { storage: cluster.storage() } : {});
try {
  const started = Date.now();
  for (let b = 0; b < N / 1000; b++) {
    const events = [];
    for (let i = 0; i < 1000; i++) {
      const k = b * 1000 + i;
      events.push({ user_id: `user-${k % 1000}`, event_type: k % 10 === 0 ? 'Purchase' : 'view',
        time: started - 1000, insert_id: `e${k}`, event_properties: { n: k } });
    }
    await server.trackOk(events);
  }
  console.log(`${redis ? 'redis-cluster' : 'rocksdb'}: loaded ${N} events in ${(Date.now() - started) / 1000} s`);
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    const res = await server.admin('GET', `/projects/${SEED.id}/users?user_id=user-1&events_hours=168`);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`lookup ${r + 1}: ${res.status}, ${res.json.events_scanned} entries scanned` +
      ` (truncated ${res.json.truncated}) in ${ms.toFixed(0)} ms: ${Math.round(res.json.events_scanned / ms * 1000)} entries/s`);
  }
} finally {
  await server.dispose();
  if (cluster) await cluster.dispose();
}
