// The workload of bench/callgrind_groups.sh: one group holding --props properties of 900
// characters each (about 0.8 MiB of JSON, near the 1 MiB limit), set by one $groupidentify,
// then --requests bodies of one $groupidentify each that $add 1 to a counter of that group,
// sent over --connections keep-alive connections (several batches then share a commit group).
// Prints {"ok":N} (bodies answered 200) and checks the counter reads back as N.
//   node bench/group_requests.mjs --url URL [--requests 200] [--connections 4] [--props 900]
//                                 [--phase setup|send]
import http from 'node:http';
import { accepted, parseArgs, post } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8080', requests: 200, connections: 4, props: 900, phase: 'send', 'api-key': 'bench-key',
});
const url = new URL(opt.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(opt.connections) });
const event = (props) => JSON.stringify({
  api_key: opt['api-key'],
  events: [{ user_id: 'bench-sender', event_type: '$groupidentify', groups: { org: 'big' }, group_properties: props }],
});

if (opt.phase === 'setup') {
  const set = {};
  for (let i = 0; i < Number(opt.props); i++) set[`p${i}`] = `${i}`.padEnd(900, 'x');
  const res = await post(agent, url, '/batch', event({ $set: set }));
  if (!accepted(res)) throw new Error(`setup answered ${res.status}: ${res.body.slice(0, 300)}`);
  console.log(JSON.stringify({ ok: 1 }));
} else {
  const body = event({ $add: { n: 1 } });
  let next = 0;
  let ok = 0;
  async function worker() {
    while (next < Number(opt.requests)) {
      next++;
      if (accepted(await post(agent, url, '/batch', body))) ok++;
    }
  }
  await Promise.all(Array.from({ length: Number(opt.connections) }, worker));
  console.log(JSON.stringify({ ok }));
}
agent.destroy();
