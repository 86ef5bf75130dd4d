// `profiled import`: migration from Amplitude. The test plays Amplitude's part: it sends a
// generated history live, through /2/httpapi, into one project and writes what Amplitude's
// Export API would give for it (a zip of gzipped JSON-lines files, one per upload hour, each line
// with the export's fields and the user's properties after the event, read back from the live
// project), plus a few bad lines. `profiled import` replays the archive into a second project;
// every profile, computed property and cohort must come out exactly as in the live project.
// Also: a resumed import after SIGKILL (with its last batches sent twice) applies every event
// exactly once; --ndjson replays plain HTTP V2 events; 429s are waited out; refusals exit 2 or 1.
//
// Needs the `zip` tool (scripts/install-deps.sh). In the e2e-pair mode both servers are nodes on
// one Redis Cluster (the import talks to node A, reads go to node B).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { BIN, configToml, describe, it, makeTempDir, request, runAsync, sharedServer, sleep, startServer } from './harness.js';
import { DAY, cohort, eventCond, makeProjects, putAllReady, userPropCond } from './compute-helpers.js';

const [IMP, LIVE, RES, ND, ND_LIVE] = makeProjects('amimp', 5, 'seed');
const [IMP_AMP, LIVE_AMP] = makeProjects('amimpamp', 2, 'amplitude');
// A project that takes 1,000 events a second (the harness's throttle window is 1 s).
const THR = { ...makeProjects('amimpthr', 1)[0], events_per_second: 1000 };
const AMPLITUDE_PROJECT = '187520';
const here = path.dirname(fileURLToPath(import.meta.url));

const DEFINITIONS = [
  ['computations', '1', { name: 'purchases', type: 'count', event_type: 'Purchase' }],
  ['computations', '2', { name: 'spent', type: 'sum', event_type: 'Purchase', property: 'price' }],
  ['computations', '3', { name: 'plays30', type: 'count', event_type: 'Play', window_days: 30 }],
  ['computations', '4', { name: 'lastsong', type: 'last', event_type: 'Play', property: 'song' }],
  ['cohorts', 'buyers', cohort('buyers', eventCond('Purchase', '>=', 2, { days: 365 }))],
  ['cohorts', 'pros', cohort('pros', userPropCond('plan', 'is', ['pro']))],
];

// A deterministic pseudo-random sequence (the same history every run).
function rng(seed) {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Amplitude's export time: "YYYY-MM-DD HH:MM:SS.ffffff", UTC.
function exportTime(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`;
}

// 12 users over 60 days: each starts anonymous on a device (some events before logging in),
// then plays, buys and changes user properties with every kind of operation.
function history(now) {
  const next = rng(20261201);
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  const users = Array.from({ length: 12 }, (_, i) => ({ user: `user-${pad(i + 1)}`, device: `device-${pad(i + 1)}-abc`, loggedIn: false }));
  const events = [];
  let t = now - 60 * DAY;
  for (let i = 0; i < 180; i++) {
    t += Math.floor(next() * 7 * 3600 * 1000) + 1000;
    const u = pick(users);
    const ids = { device_id: u.device };
    if (u.loggedIn || next() < 0.3) {
      ids.user_id = u.user;
      u.loggedIn = true;
    }
    const common = {
      ...ids,
      time: t,
      insert_id: `ins-${i}`,
      session_id: t - (t % 3600000),
      event_id: i + 1,
      platform: pick(['iOS', 'Android', 'Web']),
      os_name: pick(['ios', 'android', 'chrome']),
      os_version: pick(['17.1', '14', '120']),
      device_brand: 'Acme',
      carrier: pick(['Vodafone', 'O2']),
      country: pick(['Germany', 'France']),
      city: pick(['Berlin', 'Paris', 'Lyon']),
      region: 'EU',
      language: pick(['en-US', 'de-DE']),
      app_version: pick(['2.3.0', '2.4.1']),
      ip: '10.0.0.1',
      library: 'http/2.0',
      location_lat: 52.52,
      location_lng: 13.405,
    };
    const r = next();
    if (r < 0.45) {
      events.push({ ...common, event_type: 'Play', event_properties: { song: pick(['a', 'b', 'c']), secs: Math.floor(next() * 300) } });
    } else if (r < 0.65) {
      events.push({ ...common, event_type: 'Purchase', event_properties: { price: Math.round(next() * 10000) / 100, sku: pick(['s1', 's2']) } });
    } else if (r < 0.8) {
      // An ordinary event with plain user properties (a $set).
      events.push({ ...common, event_type: 'Visit', user_properties: { last_page: pick(['/home', '/shop']), plan: pick(['free', 'pro']) } });
    } else {
      const ops = pick([
        { $set: { plan: pick(['free', 'pro']), temp: 1 } },
        { $setOnce: { first_city: pick(['Berlin', 'Paris']) } },
        { $add: { visits: 1 } },
        { $append: { tags: pick(['x', 'y']) } },
        { $unset: { temp: '-' } },
        { $prepend: { recent: pick(['p', 'q']) }, $add: { visits: 2 } },
        { $remove: { tags: 'x' } },
      ]);
      events.push({ ...common, event_type: '$identify', user_properties: ops });
    }
  }
  // Removals, which only the user's properties after each event (not a $set of them) carry
  // over: an $unset, a $remove from an array and a $clearAll.
  const tail = [
    ['user-01', { $set: { temp: 1, tags: ['x', 'y'] } }],
    ['user-01', { $unset: { temp: '-' }, $remove: { tags: 'x' } }],
    ['user-02', { $set: { plan: 'pro', gone: true } }],
    ['user-02', { $clearAll: '-' }],
  ];
  for (const [user, ops] of tail) {
    t += 60000;
    events.push({ user_id: user, device_id: `device-${user.slice(5)}-abc`, time: t, insert_id: `ins-${events.length}`, event_type: '$identify', user_properties: ops });
  }
  return events;
}

// Sends `events` live to `projects` one at a time; after each, reads the user's properties in
// the first project (seed dialect): the `user_properties` Amplitude's export holds for it.
async function sendLive(server, projects, events) {
  const states = [];
  for (const e of events) {
    for (const p of projects) await server.trackOk([e], { apiKey: p.api_key });
    const params = e.user_id ? { user_id: e.user_id } : { device_id: e.device_id };
    const data = await server.userData(params, { secret: projects[0].secret_key });
    states.push({ props: data.user_properties, amplitudeId: data.amplitude_id });
  }
  return states;
}

// The export line Amplitude would write for live event `e` whose user then had `state`.
function exportLine(e, state, i) {
  const line = {
    $insert_id: e.insert_id,
    amplitude_attribution_ids: null,
    amplitude_event_type: null,
    amplitude_id: 9000000 + state.amplitudeId,
    app: Number(AMPLITUDE_PROJECT),
    app_version: e.app_version,
    city: e.city,
    client_event_time: exportTime(e.time),
    client_upload_time: exportTime(e.time + 1500),
    country: e.country,
    data: { path: '/2/httpapi', group_first_event: {}, group_ids: {} },
    device_brand: e.device_brand,
    device_carrier: e.carrier,
    device_family: 'Acme Phone',
    device_id: e.device_id,
    device_manufacturer: null,
    device_model: null,
    device_type: 'Acme Phone 3',
    dma: null,
    event_id: e.event_id,
    event_properties: e.event_properties ?? {},
    event_time: exportTime(e.time),
    event_type: e.event_type,
    global_user_properties: {},
    group_properties: {},
    groups: {},
    idfa: null,
    ip_address: e.ip,
    is_attribution_event: false,
    language: e.language,
    library: e.library,
    location_lat: e.location_lat,
    location_lng: e.location_lng,
    os_name: e.os_name,
    os_version: e.os_version,
    partner_id: null,
    paying: null,
    plan: {},
    platform: e.platform,
    processed_time: exportTime(e.time + 60000),
    region: e.region,
    sample_rate: null,
    server_received_time: exportTime(e.time + 1600),
    server_upload_time: exportTime(e.time + 1700),
    session_id: e.session_id,
    source_id: null,
    start_version: null,
    user_creation_time: exportTime(e.time),
    user_id: e.user_id ?? null,
    user_properties: state.props,
    uuid: `5d2c1b9e-0000-4000-8000-${pad(i, 12)}`,
    version_name: null,
  };
  // Some lines lack $insert_id (uuid stands in), one lacks both.
  if (i % 17 === 5) delete line.$insert_id;
  if (i === 40) {
    delete line.$insert_id;
    delete line.uuid;
  }
  return JSON.stringify(line);
}

// Writes `files` ({hour -> lines}) as Amplitude's archive layout under `dir` and zips it with
// the `zip` tool; returns the zip's path.
function writeArchive(dir, files, day = '2026-11-30') {
  const root = path.join(dir, 'export');
  fs.mkdirSync(path.join(root, AMPLITUDE_PROJECT), { recursive: true });
  for (const [hour, lines] of files) {
    const name = path.join(root, AMPLITUDE_PROJECT, `${AMPLITUDE_PROJECT}_${day}_${hour}#0.json.gz`);
    fs.writeFileSync(name, zlib.gzipSync(lines.join('\n') + '\n'));
  }
  const zip = path.join(dir, 'export.zip');
  const r = spawnSync('zip', ['-q', '-r', zip, AMPLITUDE_PROJECT], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `zip failed (is the zip tool installed? scripts/install-deps.sh): ${r.error ?? r.stderr}`);
  return zip;
}

function runImport(server, args, opts = {}) {
  return runAsync(BIN, ['import', '--url', server.base, ...args], { timeoutMs: 120000, ...opts });
}

function summaryOf(result) {
  const last = result.stdout.trim().split('\n').pop();
  return JSON.parse(last);
}

// Every profile of `ids` in both projects, read the same way, compared whole.
async function assertSameProfiles(server, ids, imported, live, params = {}) {
  for (const id of ids) {
    const q = { ...id, ...params };
    const a = await server.profile(q, { secret: imported.secret_key });
    const b = await server.profile(q, { secret: live.secret_key });
    assert.equal(a.status, b.status, `${JSON.stringify(id)}: ${a.text} vs ${b.text}`);
    assert.deepEqual(a.json, b.json, `${JSON.stringify(id)} imported differs from live`);
  }
}

describe('profiled import --amplitude-export', () => {
  const s = sharedServer({ projects: [IMP, LIVE, RES, ND, ND_LIVE, IMP_AMP, LIVE_AMP, THR] });
  const dir = makeTempDir('profiled-import-');

  it('replays an export archive so profiles, computations and cohorts are as if sent live', async () => {
    const server = s.server;
    await Promise.all([IMP, LIVE, IMP_AMP, LIVE_AMP].map((p) => putAllReady(server, p.id, DEFINITIONS)));
    const events = history(Date.now());
    const states = await sendLive(server, [LIVE, LIVE_AMP], events);

    // One file per "upload hour", 12 lines each: hours 0..15, so a byte-wise order of the
    // names (..._10#0 before ..._2#0) would replay them out of order.
    const lines = events.map((e, i) => exportLine(e, states[i], i));
    const files = [];
    for (let h = 0; h * 12 < lines.length; h++) files.push([h, lines.slice(h * 12, h * 12 + 12)]);
    // Bad lines, as a damaged or hand-edited export may hold; each is skipped and counted.
    files[1][1].splice(3, 0, 'this is not json');
    files[2][1].splice(5, 0, JSON.stringify({ user_id: 'user-01', event_time: exportTime(Date.now()) }));
    files[3][1].splice(2, 0, JSON.stringify({ event_type: 'Play', user_id: null, device_id: null, event_time: exportTime(Date.now()) }));
    files[4][1].splice(7, 0, JSON.stringify({ event_type: 'Play', user_id: 'user-01', event_time: 'yesterday' }));
    files[5][1].splice(4, 0, '');
    // Valid for the importer, refused by the server (a reserved event type): the batch is sent
    // again without it.
    files[6][1].splice(6, 0, JSON.stringify({ event_type: '[Amplitude] Start Session', user_id: 'user-01', event_time: exportTime(Date.now()), $insert_id: 'reserved-1' }));
    const zip = writeArchive(dir, files);

    for (const project of [IMP, IMP_AMP]) {
      const result = await runImport(server, ['--api-key', project.api_key, '--amplitude-export', zip,
        '--state', path.join(dir, `${project.id}.state`), '--batch-events', '40']);
      assert.equal(result.code, 0, result.stderr);
      const summary = summaryOf(result);
      assert.equal(summary.complete, true);
      assert.equal(summary.files, files.length);
      assert.equal(summary.events_accepted, events.length);
      assert.equal(summary.user_ids, 12);
      assert.equal(summary.device_ids, 12);
      assert.deepEqual(summary.skipped, {
        'not JSON': 1,
        'no event_type': 1,
        'no user_id or device_id': 1,
        'no valid event_time': 1,
        'rejected by the server: invalid event_type': 1,
      });
      assert.equal(summary.skipped_lines, 5);
      assert.match(result.stderr, /skipped 187520\/187520_2026-11-30_6#0\.json\.gz line 7: rejected by the server: invalid event_type: events\[\d+\]\.event_type/);
      assert.match(result.stderr, new RegExp(`finished .*export\\.zip: all of ${files.length} files`));
    }

    const ids = [];
    for (let i = 1; i <= 12; i++) {
      ids.push({ user_id: `user-${pad(i)}` });
      ids.push({ device_id: `device-${pad(i)}-abc` });
    }
    await assertSameProfiles(server, ids, IMP, LIVE);
    await assertSameProfiles(server, ids, IMP_AMP, LIVE_AMP, { get_amp_props: 'true', get_cohort_ids: 'true', get_computations: 'true' });

    // The comparison is of something: the live project has the properties, computations and
    // cohorts the history makes.
    let buyers = 0;
    let pros = 0;
    let purchases = 0;
    for (let i = 1; i <= 12; i++) {
      const r = await server.profile({ user_id: `user-${pad(i)}` }, { secret: IMP.secret_key });
      if (r.status !== 200) continue;
      const d = r.json.userData;
      purchases += d.computed_properties['1'] ?? 0;
      if (d.cohort_ids.includes('buyers')) buyers++;
      if (d.cohort_ids.includes('pros')) {
        pros++;
        assert.equal(d.user_properties.plan, 'pro');
      }
    }
    assert.ok(purchases > 0 && buyers > 0 && pros > 0, `purchases ${purchases}, buyers ${buyers}, pros ${pros}`);
    const amp = await server.userData({ user_id: 'user-01', get_amp_props: 'true' }, { secret: IMP_AMP.secret_key });
    assert.ok(amp.amp_props.platform && amp.amp_props.first_used && amp.amp_props.last_used, JSON.stringify(amp.amp_props));
  });

  it('resumes after being killed and applies every event exactly once', async () => {
    const server = s.server;
    await putAllReady(server, RES.id, [['computations', '1', { name: 'ticks', type: 'count', event_type: 'Tick' }]]);
    // 20 files of 100 lines: 50 users, 40 Tick events each; each line carries the user's
    // properties after it (a counter that is the user's number of ticks so far).
    const FILES = 20;
    const TOTAL = FILES * 100;
    const files = [];
    const count = new Map();
    const start = Date.now() - 10 * DAY;
    for (let h = 0; h < FILES; h++) {
      const lines = [];
      for (let k = 0; k < 100; k++) {
        const i = h * 100 + k;
        const user = `ruser-${pad(i % 50)}`;
        const n = (count.get(user) ?? 0) + 1;
        count.set(user, n);
        lines.push(JSON.stringify({ event_type: 'Tick', user_id: user, device_id: null, event_time: exportTime(start + i * 60000),
          $insert_id: `tick-${i}`, user_properties: { ticks: n }, event_properties: { i } }));
      }
      files.push([h, lines]);
    }
    const rdir = path.join(dir, 'resume');
    fs.mkdirSync(rdir);
    const zip = writeArchive(rdir, files);
    const state = path.join(rdir, 'state.json');
    const args = ['--api-key', RES.api_key, '--amplitude-export', zip, '--state', state, '--batch-events', '5'];

    // Killed once two files are done: 360 requests are left, far more than can pass between
    // two looks at the state file.
    let pid = 0;
    const first = runImport(server, args, { onSpawn: (p) => (pid = p) });
    let killedAt = null;
    for (let i = 0; i < 6000 && killedAt === null; i++) {
      try {
        const st = JSON.parse(fs.readFileSync(state, 'utf8'));
        if (st.entry >= 2) {
          process.kill(pid, 'SIGKILL');
          killedAt = st;
        }
      } catch {
        // not written yet, or being renamed over
      }
      if (killedAt === null) await sleep(5);
    }
    const killed = await first;
    assert.equal(killed.signal, 'SIGKILL', `the import ended before it was killed: ${killed.stderr}`);
    const recorded = JSON.parse(fs.readFileSync(state, 'utf8'));
    assert.equal(recorded.complete, false);
    assert.ok(recorded.events_accepted > 0 && recorded.events_accepted < TOTAL, JSON.stringify(recorded));

    // As if the last batches reached the server but not the state file: move it back to the
    // start of the file before, so about 100+ applied events are sent again.
    const names = files.map(([h]) => `${AMPLITUDE_PROJECT}/${AMPLITUDE_PROJECT}_2026-11-30_${h}#0.json.gz`)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    const back = recorded.entry - 1;
    fs.writeFileSync(state, JSON.stringify({ ...recorded, entry: back, entry_name: names[back], line: 0 }));

    const rerun = await runImport(server, args);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, new RegExp(`resuming .*export\\.zip after 187520/187520_2026-11-30_${back}#0\\.json\\.gz line 0`));
    const summary = summaryOf(rerun);
    assert.deepEqual(summary.resumed_from, { entry: back, line: 0 });
    assert.equal(summary.complete, true);
    assert.equal(summary.events_accepted_this_run, TOTAL - back * 100);

    for (const [user, n] of count) {
      const d = await server.userData({ user_id: user }, { secret: RES.secret_key });
      assert.equal(d.computed_properties['1'], n, `${user}: every event exactly once`);
      assert.deepEqual(d.user_properties, { ticks: n });
    }

    // Once complete, a rerun changes nothing and says so.
    const again = await runImport(server, args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /imported completely before/);
    // --restart sends everything again; de-duplication keeps the counts.
    const restart = await runImport(server, ['--api-key', RES.api_key, '--amplitude-export', zip, '--state', state, '--restart']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(summaryOf(restart).events_accepted, TOTAL);
    const d = await server.userData({ user_id: 'ruser-07' }, { secret: RES.secret_key });
    assert.equal(d.computed_properties['1'], TOTAL / 50);
  });

  it('--ndjson replays HTTP V2 events as written', async () => {
    const server = s.server;
    const events = [
      { event_type: 'Signup', user_id: 'nd-user-1', device_id: 'nd-dev-1', time: Date.now() - DAY, insert_id: 'nd-1', user_properties: { $set: { plan: 'pro' }, $add: { n: 2 } } },
      { event_type: 'Play', user_id: 'nd-user-1', time: Date.now() - 3600000, user_properties: { $append: { songs: 'a' }, $add: { n: 0.1 } }, event_properties: { x: 1.5 } },
      { event_type: '$identify', user_id: 'nd-user-1', user_properties: { $unset: { plan: '-' }, $setOnce: { first: 'yes' } } },
      { event_type: 'Play', device_id: 'nd-dev-2', time: Date.now() - 7200000, user_properties: { anon: true }, platform: 'Web' },
    ];
    for (const e of events) await server.trackOk([e], { apiKey: ND_LIVE.api_key });
    const file = path.join(dir, 'events.ndjson');
    fs.writeFileSync(file, [JSON.stringify(events[0]), '{"event_type": "Play"}', JSON.stringify(events[1]), '',
      JSON.stringify(events[2]), JSON.stringify(events[3])].join('\n') + '\n');
    const result = await runImport(server, ['--api-key', ND.api_key, '--ndjson', file]);
    assert.equal(result.code, 0, result.stderr);
    const summary = summaryOf(result);
    assert.equal(summary.events_accepted, 4);
    assert.deepEqual(summary.skipped, { 'no user_id or device_id': 1 });
    // The default state file sits beside the input.
    assert.equal(JSON.parse(fs.readFileSync(`${file}.import-state`, 'utf8')).complete, true);
    await assertSameProfiles(server, [{ user_id: 'nd-user-1' }, { device_id: 'nd-dev-2' }], ND, ND_LIVE);
    const d = await server.userData({ user_id: 'nd-user-1' }, { secret: ND.secret_key });
    assert.deepEqual(d.user_properties, { n: 2.1, songs: ['a'], first: 'yes' });
    // A second import of the same file, named another way, with --restart applies nothing
    // twice (the lines without insert_id get one from the file's name and their line).
    const again = await runImport(server, ['--api-key', ND.api_key, '--ndjson', `${dir}/./events.ndjson`, '--restart']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((await server.userData({ user_id: 'nd-user-1' }, { secret: ND.secret_key })).user_properties, d.user_properties);
  });

  it('waits out 429 answers and sends the batch again, each event applied once', async () => {
    const server = s.server;
    // 2,000 events of 20 users in batches of 500 into a project that takes 1,000 a second:
    // the third and fourth batches are answered 429 first.
    const lines = [];
    for (let i = 0; i < 2000; i++) {
      lines.push(JSON.stringify({ event_type: 'Tick', user_id: `thr-user-${pad(i % 20)}`, insert_id: `thr-${i}`, user_properties: { $add: { n: 1 } } }));
    }
    const file = path.join(dir, 'throttled.ndjson');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const result = await runImport(server, ['--api-key', THR.api_key, '--ndjson', file, '--batch-events', '500']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /HTTP 429 .*Too many requests for this project.*; retrying in \d/);
    assert.equal(summaryOf(result).events_accepted, 2000);
    for (let u = 0; u < 20; u++) {
      const d = await server.userData({ user_id: `thr-user-${pad(u)}` }, { secret: THR.secret_key });
      assert.deepEqual(d.user_properties, { n: 100 });
    }
  });

  it('sends to an https:// node, its certificate verified against --ca-file', async () => {
    const tlsDir = path.join(dir, 'tls');
    fs.mkdirSync(tlsDir);
    const made = spawnSync(path.join(here, 'make-test-ca.sh'), [tlsDir], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const ca = path.join(tlsDir, 'ca.pem');
    const project = makeProjects('amimptls', 1)[0];
    const server = await startServer({ config: configToml({ dataDir: '{{DATA}}', projects: [project],
      tls: { cert: path.join(tlsDir, 'server.pem'), key: path.join(tlsDir, 'server.key') } }) });
    try {
      assert.match(server.base, /^https:\/\/127\.0\.0\.1:/);
      const file = path.join(tlsDir, 'events.ndjson');
      fs.writeFileSync(file, [{ event_type: 'e', user_id: 'tls-user-1', user_properties: { $add: { n: 1 } } },
        { event_type: 'e', user_id: 'tls-user-1', user_properties: { $add: { n: 2 } } }].map((e) => JSON.stringify(e)).join('\n'));
      const ok = await runImport(server, ['--api-key', project.api_key, '--ndjson', file, '--ca-file', ca]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(summaryOf(ok).events_accepted, 2);
      const read = await request(`${server.base}/v1/userprofile?user_id=tls-user-1`, {
        ca: fs.readFileSync(ca), headers: { Authorization: `Api-Key ${project.secret_key}` } });
      assert.deepEqual(read.json.userData.user_properties, { n: 3 });
      // Without the CA the certificate is not trusted: nothing is sent, and the command stops at
      // its first try (the default retries would take a minute and a half).
      const untrusted = await runImport(server, ['--api-key', project.api_key, '--ndjson', file,
        '--state', path.join(tlsDir, 'untrusted.state')]);
      assert.equal(untrusted.code, 1, untrusted.stderr);
      assert.match(untrusted.stderr, /certificate verify failed/);
      assert.doesNotMatch(untrusted.stderr, /tries\)|retrying/, untrusted.stderr);
    } finally {
      await server.dispose();
    }
  });

  it('refuses bad flags and inputs (exit 2) and stops on a refusing or absent server (exit 1)', async () => {
    const server = s.server;
    const file = path.join(dir, 'one.ndjson');
    fs.writeFileSync(file, JSON.stringify({ event_type: 'e', user_id: 'someone-1' }) + '\n');
    const notZip = path.join(dir, 'not.zip');
    fs.writeFileSync(notZip, 'hello');
    const cases = [
      [['--api-key', 'k'], /exactly one of --amplitude-export FILE and --ndjson FILE/],
      [['--api-key', 'k', '--ndjson', file, '--amplitude-export', notZip], /excludes/i],
      [['--api-key', 'k', '--amplitude-export', notZip], /not a readable zip archive/],
      [['--api-key', 'k', '--ndjson', path.join(dir, 'missing')], /cannot open/],
      [['--api-key', 'k', '--ndjson', file, '--user-properties', 'merge'], /--user-properties must be replace, set or ignore/],
      [['--api-key', 'k', '--ndjson', file, '--batch-events', '5000'], /--batch-events must be from 1 to 2000/],
    ];
    for (const [args, message] of cases) {
      const r = await runImport(server, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const ftp = await runAsync(BIN, ['import', '--url', 'ftp://127.0.0.1:1', '--api-key', 'k', '--ndjson', file]);
    assert.equal(ftp.code, 2);
    assert.match(ftp.stderr, /--url must be http:\/\/HOST:PORT or https:\/\/HOST:PORT/);
    const caOnHttp = await runImport(server, ['--api-key', 'k', '--ndjson', file, '--ca-file', file]);
    assert.equal(caOnHttp.code, 2);
    assert.match(caOnHttp.stderr, /--ca-file is for an https:\/\/ --url/);

    // A wrong api_key: the server refuses the whole request; nothing to retry.
    const wrong = await runImport(server, ['--api-key', 'not-a-key', '--ndjson', file, '--state', path.join(dir, 'wrong.state')]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /Invalid API key: not-a-key/);

    // No server: retried, then stopped, resumable.
    const down = await runAsync(BIN, ['import', '--url', 'http://127.0.0.1:1', '--api-key', 'k', '--ndjson', file,
      '--state', path.join(dir, 'down.state'), '--max-retries', '1']);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, /retrying in 0\.5 s/);
    assert.match(down.stderr, /run the same command again to resume/);
    assert.equal(summaryOf(down).complete, false);

    // A state file of another input is not applied to this one.
    const other = path.join(dir, 'two.ndjson');
    fs.writeFileSync(other, JSON.stringify({ event_type: 'e', user_id: 'someone-2' }) + '\n');
    const mismatch = await runImport(server, ['--api-key', ND.api_key, '--ndjson', other, '--state', path.join(dir, 'down.state')]);
    assert.equal(mismatch.code, 2, mismatch.stderr);
    assert.match(mismatch.stderr, /records an import of another file/);
  });
});
