// Round trips of the ten user-property operations (issue 9, item 2): random sequences of
// ingestion requests for a few users, sent through the real binary (raw /2/httpapi and
// /batch, and the official @amplitude/analytics-node SDK's identify and track), then every
// user read back in both dialects and compared whole with a reference model
// (property-model.js). A request the model says must be refused must be answered 400 and
// change nothing.
//
// PROFILED_PROPERTY_SEED (default below) and PROFILED_PROPERTY_CASES choose the cases. A
// failing case is shrunk (steps, events, properties dropped while it still fails) and
// printed with its seed, so `PROFILED_PROPERTY_SEED=<seed> PROFILED_PROPERTY_CASES=<n>`
// runs it again.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import amplitude from '@amplitude/analytics-node';
import { AMP, describe, it, SEED, sharedServer } from './harness.js';
import {
  applyOps, canonicalText, fromJs, Lit, makeRng, Model, modelOf, Obj, parseTree, toJs, treeText, wireText,
} from './property-model.js';

const { createInstance, Identify } = amplitude;
const require = createRequire(import.meta.url);
const LIBRARY = `amplitude-node-ts/${require('@amplitude/analytics-node/package.json').version}`;

const SEED_DEFAULT = 20260409;
const SEED_USED = Number(process.env.PROFILED_PROPERTY_SEED ?? SEED_DEFAULT);
const CASES = Number(process.env.PROFILED_PROPERTY_CASES ?? 300);
const SHRINK_RUNS = 200; // at most this many runs to shrink a failing case

// ---- the generator ----

const INT_LITERALS = ['0', '-0', '1', '-1', '2', '7', '42', '-17', '1000000', '9007199254740993',
  '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809',
  '18446744073709551615', '18446744073709551616', '123456789012345678901234567890'];
const DOUBLE_LITERALS = ['2.0', '1e2', '1E+2', '0.5', '-0.25', '1.5e-7', '1e21', '1e16', '0.1',
  '-2.5e3', '1.7976931348623157e308', '-1.7976931348623157e308', '5e-324', '1e-400',
  '97.43057599473337', '0.30000000000000004', '4.6e18', '9.2e18', '-0.0', '3.0e0'];
const NUMERIC_STRINGS = ['12', '-0.5', '1e3', '00012', '.5', '5.', '-.5', '2.0', '18446744073709551615',
  '-9223372036854775809', '99999999999999999999', '1E+2'];
const NOT_NUMERIC_STRINGS = [' 5', '+5', '0x10', 'nan', 'Infinity', '1e400', '-', '1e', '5 ', ''];
const STRINGS = ['', 'x', 'abc', 'ключ', '東京 🗼', 'e\u0301', 'é', 'q"b\\s/\b\f\n\r\t', '\u0000',
  '\u001f\u007f', '\u2028\u2029', '\ufeff', 'x'.repeat(1030), '🎉'.repeat(1025),
  `${'a'.repeat(1023)}🎉🎉`, 'null', 'true', '[]', '{}'];
const KEYS = ['a', 'b', 'n', 'l', 'ключ', '🎉 emoji', '', 'a.b', 'quote"\\', 'first_used', 'library',
  'tab\tnl\n', 'nul\u0000', '$not-an-op', 'k'.repeat(1024)];

function genCase(rng, caseNo) {
  const keys = [...new Set(Array.from({ length: 3 + rng.int(3) }, () => (rng.chance(0.6) ? rng.pick(KEYS.slice(0, 4)) : rng.pick(KEYS))))]
    .filter((k) => !k.startsWith('$'));
  if (keys.length === 0) keys.push('a');
  const literal = () => {
    const r = rng.next();
    if (r < 0.3) return new Lit(rng.pick(INT_LITERALS));
    if (r < 0.55) return new Lit(rng.pick(DOUBLE_LITERALS));
    if (r < 0.8) return new Lit(String(rng.int(21) - 10));
    return new Lit((rng.next() * 200 - 100).toFixed(rng.int(4)));
  };
  const freshScalar = () => {
    const r = rng.next();
    if (r < 0.35) return literal();
    if (r < 0.65) return rng.pick(STRINGS);
    if (r < 0.8) return rng.pick([...NUMERIC_STRINGS, ...NOT_NUMERIC_STRINGS]);
    if (r < 0.9) return rng.pick([true, false]);
    return null;
  };
  // Values this case reuses, so that $remove, $preInsert, $postInsert and $setOnce meet them.
  const atoms = Array.from({ length: 4 }, freshScalar);
  const scalar = () => (rng.chance(0.6) ? rng.pick(atoms) : freshScalar());
  const value = (depth = 0) => {
    const r = rng.next();
    if (depth >= 3 || r < 0.55) return scalar();
    if (r < 0.8) return Array.from({ length: rng.int(5) }, () => value(depth + 1));
    const entries = Array.from({ length: rng.int(4) }, () => [rng.pick(keys), value(depth + 1)]);
    return new Obj(entries);
  };
  const deep = (levels) => {
    let v = rng.pick(atoms);
    for (let i = 0; i < levels; i++) v = rng.chance(0.5) ? [v] : new Obj([['d', v]]);
    return v;
  };
  const addend = () => (rng.chance(0.7) ? literal() : rng.pick(NUMERIC_STRINGS));
  const opBody = (op) => {
    const entries = Array.from({ length: 1 + rng.int(2) }, () => {
      const k = rng.pick(keys);
      if (op === '$add') return [k, addend()];
      if (op === '$unset') return [k, rng.chance(0.7) ? '-' : value()];
      if (rng.chance(0.02)) return [k, deep(38 + rng.int(2))]; // within the 40 levels
      return [k, value()];
    });
    if (rng.chance(0.05)) entries.push([entries[0][0], value()]); // a key sent twice
    return new Obj(entries);
  };
  const ops = () => {
    const names = ['$set', '$setOnce', '$add', '$append', '$prepend', '$preInsert', '$postInsert', '$remove', '$unset', '$clearAll'];
    const chosen = [...new Set(Array.from({ length: 1 + rng.int(4) }, () => rng.pick(names)))];
    if (chosen.includes('$clearAll') && rng.chance(0.6)) chosen.splice(chosen.indexOf('$clearAll'), 1);
    if (chosen.length === 0) chosen.push('$set');
    rng.chance(0.5) && chosen.reverse(); // JSON order must not matter
    return new Obj(chosen.map((op) => [op, op === '$clearAll' ? '-' : opBody(op)]));
  };
  const plain = () => new Obj(Array.from({ length: 1 + rng.int(3) }, () => [rng.pick(keys), value()]));
  // Something the server must refuse, each kind once in a while.
  const refused = () => {
    switch (rng.int(11)) {
      case 0: return new Obj([['$set', opBody('$set')], [rng.pick(keys), value()]]);
      case 1: return new Obj([['$increment', opBody('$set')]]);
      case 2: return new Obj([['$set', rng.pick([new Lit('5'), 'x', ['a'], null])]]);
      case 3: return new Obj([['$add', new Obj([[rng.pick(keys), rng.pick([...NOT_NUMERIC_STRINGS, true, null, ['1'], new Obj()])]])]]);
      case 4: return new Obj([['$set', new Obj([['k'.repeat(1025), new Lit('1')]])]]);
      case 5: return new Obj([[rng.pick(keys), new Obj([['x', [new Lit(rng.pick(['1e400', '-1e309', '2e308']))]]])]]);
      case 6: return new Obj([['$set', new Obj([[rng.pick(keys), deep(40)]])]]);
      case 7: return new Obj([[rng.pick(keys), deep(41)]]);
      case 8: return new Obj([['$append', new Obj([[rng.pick(keys), rng.pick(['\ud800', 'a\udc00b'])]])]]);
      case 9: return rng.pick([[], 'plain', new Lit('3'), true]);
      default: return new Obj([['$not-an-op', 'x']]);
    }
  };
  // Once in a while a value that meets a bound: 1000 array items, 1000 properties.
  const big = () => {
    if (rng.chance(0.5)) {
      const op = rng.pick(['$set', '$append', '$prepend', '$postInsert', '$preInsert']);
      const n = 990 + rng.int(20);
      const start = rng.int(5);
      return new Obj([[op, new Obj([[rng.pick(keys), Array.from({ length: n }, (_, i) => new Lit(String(start + i)))]])]]);
    }
    const n = 995 + rng.int(10);
    return new Obj([['$set', new Obj(Array.from({ length: n }, (_, i) => [`p${i}`, new Lit('1')]))]]);
  };

  const users = Array.from({ length: 1 + rng.int(3) }, () => ({ device: rng.chance(0.7) }));
  const day = () => Date.UTC(2024, rng.int(12), 1 + rng.int(28), rng.int(24), rng.int(60));
  const event = () => {
    const e = { u: rng.int(users.length), time: day() };
    const r = rng.next();
    e.event_type = r < 0.45 ? rng.pick(['Played', 'Bought', 'É ✓']) : r < 0.95 ? '$identify' : '$groupidentify';
    if (e.event_type === '$groupidentify') e.groups = { org: 'acme' };
    const p = rng.next();
    if (p < 0.06) e.user_properties = refused();
    else if (p < 0.08) e.user_properties = big();
    else if (p < 0.12) e.user_properties = undefined;
    else if (p < 0.35 || (e.event_type !== '$identify' && p < 0.7)) e.user_properties = plain();
    else e.user_properties = ops();
    if (rng.chance(0.2)) e.insert_id = `ins-${rng.int(3)}`;
    if (rng.chance(0.05)) e.$skip_user_properties_sync = true;
    return e;
  };
  const steps = Array.from({ length: 2 + rng.int(10) }, () => {
    const r = rng.next();
    if (r < 0.12) return sdkIdentifyStep(rng, users, keys);
    if (r < 0.2) return sdkTrackStep(rng, users, keys, day);
    return { via: rng.chance(0.7) ? '/2/httpapi' : '/batch', events: Array.from({ length: 1 + rng.int(3) }, event) };
  });
  return { caseNo, users, steps };
}

// Values the SDK takes as they are (its isValidProperties): no null, no arrays in arrays,
// only numbers, strings and objects in arrays; numbers as JS numbers.
function sdkValue(rng, keys, depth = 0) {
  const scalar = () => {
    const r = rng.next();
    if (r < 0.4) return rng.pick([0, 1, -1, 2.5, 1e21, 0.1, 9007199254740991, 1.5e-7, 42, -0.25]);
    if (r < 0.9) return rng.pick(STRINGS.slice(0, 15));
    return rng.pick([true, false]);
  };
  const r = rng.next();
  if (depth >= 2 || r < 0.6) return scalar();
  if (r < 0.8) {
    return Array.from({ length: rng.int(4) }, () => (rng.chance(0.8) ? rng.pick([1, 2, 'x', 'ключ', 0.5]) : { [rng.pick(keys)]: 'v' }));
  }
  return Object.fromEntries(Array.from({ length: 1 + rng.int(2) }, () => [rng.pick(keys), sdkValue(rng, keys, depth + 1)]));
}

// An identify through the SDK: each property in one operation at most, $clearAll alone (the
// SDK's Identify drops anything else).
function sdkIdentifyStep(rng, users, keys) {
  const u = rng.int(users.length);
  if (rng.chance(0.1)) return { via: 'sdk-identify', u, calls: [['clearAll']] };
  const calls = [];
  for (const key of keys.filter(() => rng.chance(0.6))) {
    const op = rng.pick(['set', 'setOnce', 'add', 'append', 'prepend', 'preInsert', 'postInsert', 'remove', 'unset']);
    if (op === 'add') calls.push([op, key, rng.pick([1, -2, 0.5, 1e21, 9007199254740991])]);
    else if (op === 'unset') calls.push([op, key]);
    else calls.push([op, key, sdkValue(rng, keys)]);
  }
  if (calls.length === 0) calls.push(['set', keys[0], 'v']);
  return { via: 'sdk-identify', u, calls };
}

function sdkTrackStep(rng, users, keys, day) {
  const props = Object.fromEntries(Array.from({ length: 1 + rng.int(3) }, () => [rng.pick(keys), sdkValue(rng, keys)]));
  return { via: 'sdk-track', u: rng.int(users.length), time: day(), props };
}

// What the SDK's Identify sends for these calls: {$op: {key: value}}, $unset's value "-".
function identifyProperties(calls) {
  const out = {};
  for (const [op, key, v] of calls) {
    const name = { setOnce: '$setOnce', preInsert: '$preInsert', postInsert: '$postInsert' }[op] ?? `$${op}`;
    if (op === 'clearAll') out.$clearAll = '-';
    else (out[name] ??= {})[key] = op === 'unset' ? '-' : v;
  }
  return out;
}

// ---- running a case ----

let runs = 0;

// The events of a step as the server receives them, for the model and for the wire.
function stepEvents(step, ids) {
  if (step.via === 'sdk-identify') {
    const { user_id, device_id } = ids[step.u];
    return [{ user_id, device_id, event_type: '$identify', user_properties: fromJs(identifyProperties(step.calls)), library: LIBRARY }];
  }
  if (step.via === 'sdk-track') {
    const { user_id, device_id } = ids[step.u];
    return [{ user_id, device_id, event_type: 'sdk event', time: step.time, user_properties: fromJs(step.props), library: LIBRARY }];
  }
  return step.events.map((e) => {
    const { u, ...fields } = e;
    return { ...ids[u], ...fields };
  });
}

function eventText(e) {
  const fields = Object.entries(e).filter(([k, v]) => v !== undefined && k !== 'library');
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${wireText(v)}`).join(',')}}`;
}

// Sends one case to both projects and reads every user back in both dialects. Returns null,
// or what went wrong.
async function runCase(server, sdk, c) {
  runs += 1;
  const tag = `pt${process.pid}-${runs}`;
  const ids = c.users.map((u, i) => ({ user_id: `${tag}-u${i}`, device_id: u.device ? `${tag}-d${i}` : undefined }));
  const model = new Model();
  for (const [n, step] of c.steps.entries()) {
    const events = stepEvents(step, ids);
    const refusal = model.refusal(events);
    for (const project of [SEED, AMP]) {
      if (step.via === 'sdk-identify' || step.via === 'sdk-track') {
        const client = sdk[project.id];
        const identify = new Identify();
        const { user_id, device_id } = ids[step.u];
        const options = device_id === undefined ? { user_id } : { user_id, device_id };
        let pending;
        if (step.via === 'sdk-identify') {
          for (const [op, ...args] of step.calls) identify[op](...args);
          // The model's input is what these calls mean; the SDK must send just that.
          assert.deepEqual(identify.getUserProperties(), identifyProperties(step.calls), 'the SDK dropped an operation the generator meant to send');
          pending = client.identify(identify, options).promise;
        } else {
          pending = client.track({ event_type: 'sdk event', user_properties: step.props }, undefined, { ...options, time: step.time }).promise;
        }
        await client.flush().promise;
        const result = await pending;
        if (result.code !== 200) return `step ${n} (${step.via}) to ${project.id}: the SDK reports ${result.code} ${result.message}`;
        continue;
      }
      const body = `{"api_key":${JSON.stringify(project.api_key)},"events":[${events.map(eventText).join(',')}]}`;
      const res = await server.request('POST', step.via, { body, headers: { 'Content-Type': 'application/json' } });
      const want = refusal === null ? 200 : 400;
      if (res.status !== want || res.json?.code !== want) {
        return `step ${n} to ${project.id}: expected ${want}${refusal ? ` (${refusal})` : ''}, got ${res.status} ${res.text.slice(0, 300)}`;
      }
    }
    if (refusal === null) model.apply(events);
  }
  for (const [i, { user_id, device_id }] of ids.entries()) {
    for (const project of [SEED, AMP]) {
      const params = project === SEED ? { user_id } : { user_id, get_amp_props: 'true' };
      const res = await server.profile(params, { secret: project.secret_key });
      const props = project === SEED ? model.seedProperties(user_id) : model.ampProps(user_id);
      const who = `user ${i} (${user_id}) in ${project.id}`;
      if (props === undefined) {
        if (res.status !== 404) return `${who}: expected 404 (no accepted event), got ${res.status} ${res.text.slice(0, 300)}`;
        continue;
      }
      if (res.status !== 200) return `${who}: expected 200, got ${res.status} ${res.text.slice(0, 300)}`;
      if (res.json === undefined) return `${who}: the answer is not JSON: ${res.text.slice(0, 300)}`;
      let tree;
      try {
        tree = parseTree(res.text);
      } catch (e) {
        return `${who}: ${e.message}`;
      }
      const data = tree.get('userData');
      if (!(data instanceof Map)) return `${who}: no userData object: ${res.text.slice(0, 300)}`;
      // The seed dialect's amplitude_id is the server's to choose: any positive integer.
      const amplitudeId = data.get('amplitude_id')?.text ?? '';
      if (project === SEED && !/^[1-9]\d*$/.test(amplitudeId)) return `${who}: amplitude_id is not a positive integer: ${res.text.slice(0, 300)}`;
      const expected = project === SEED
        ? { user_id, amplitude_id: new RawText(amplitudeId), user_properties: props, computed_properties: new Map(), cohort_ids: [] }
        : { recommendations: null, user_id, device_id: device_id ?? null, amp_props: props, cohort_ids: null };
      const expectedText = `{${Object.keys(expected).sort().map((k) => `${JSON.stringify(k)}:${expected[k] instanceof RawText ? expected[k].text : canonicalText(expected[k])}`).join(',')}}`;
      const actualText = treeText(data);
      if (expectedText !== actualText) return `${who}: the profile differs from the model's\n  expected ${expectedText}\n  actual   ${actualText}`;
    }
  }
  return null;
}

// A piece of canonical text placed as is inside a model value (amplitude_id, read back).
class RawText {
  constructor(text) {
    this.text = text;
  }
}

// ---- shrinking ----

// Smaller variants of a case: a step left out, an event left out, a property or an
// operation's entry left out, an SDK call left out.
function* smaller(c) {
  const withSteps = (steps) => ({ ...c, steps });
  for (let i = 0; i < c.steps.length; i++) yield withSteps(c.steps.filter((_, j) => j !== i));
  for (const [i, s] of c.steps.entries()) {
    const replace = (step) => withSteps(c.steps.map((x, j) => (j === i ? step : x)));
    if (s.calls && s.calls.length > 1) {
      for (let k = 0; k < s.calls.length; k++) yield replace({ ...s, calls: s.calls.filter((_, j) => j !== k) });
    }
    if (!s.events) continue;
    if (s.events.length > 1) {
      for (let k = 0; k < s.events.length; k++) yield replace({ ...s, events: s.events.filter((_, j) => j !== k) });
    }
    for (const [k, e] of s.events.entries()) {
      const up = e.user_properties;
      if (!(up instanceof Obj)) continue;
      const withUp = (entries) => replace({ ...s, events: s.events.map((x, j) => (j === k ? { ...e, user_properties: new Obj(entries) } : x)) });
      if (up.entries.length > 1) {
        for (let m = 0; m < up.entries.length; m++) yield withUp(up.entries.filter((_, j) => j !== m));
      }
      for (const [m, [name, body]] of up.entries.entries()) {
        if (body instanceof Obj && body.entries.length > 1) {
          for (let q = 0; q < body.entries.length; q++) {
            yield withUp(up.entries.map((x, j) => (j === m ? [name, new Obj(body.entries.filter((_, r) => r !== q))] : x)));
          }
        }
      }
    }
  }
}

async function shrink(server, sdk, c, failure) {
  let budget = SHRINK_RUNS;
  let progress = true;
  while (progress && budget > 0) {
    progress = false;
    for (const candidate of smaller(c)) {
      if (budget-- <= 0) break;
      const f = await runCase(server, sdk, candidate);
      if (f !== null) {
        c = candidate;
        failure = f;
        progress = true;
        break;
      }
    }
  }
  return { c, failure };
}

function describeCase(c) {
  const lines = c.steps.map((s, n) => {
    if (s.via === 'sdk-identify') return `  ${n}: SDK identify user ${s.u}: ${s.calls.map(([op, ...a]) => `.${op}(${a.map((x) => JSON.stringify(x)).join(', ')})`).join('')}`;
    if (s.via === 'sdk-track') return `  ${n}: SDK track user ${s.u} time ${s.time}: user_properties ${JSON.stringify(s.props)}`;
    return `  ${n}: POST ${s.via} ${s.events.map((e) => `user ${e.u}: ${eventText({ ...e, u: undefined })}`).join('\n        ')}`;
  });
  const users = c.users.map((u, i) => `user ${i}${u.device ? ' with a device' : ''}`).join(', ');
  return `${users}\n${lines.join('\n')}`;
}

// ---- the tests ----

describe('round trips of the ten user-property operations', () => {
  const h = sharedServer({ projects: [SEED, AMP] });

  async function sdkClients() {
    const sdk = {};
    for (const project of [SEED, AMP]) {
      const c = createInstance();
      await c.init(project.api_key, { serverUrl: `${h.server.base}/2/httpapi`, flushIntervalMillis: 20, logLevel: 0 }).promise;
      sdk[project.id] = c;
    }
    return sdk;
  }

  it('the model agrees with hand-worked examples', () => {
    const ops = (o) => [...modelOf(o)].flatMap(([op, body]) => (op === '$clearAll' ? [[op, '', null]] : [...body].map(([k, v]) => [op, k, v])));
    const run = (...steps) => {
      const props = new Map();
      for (const s of steps) applyOps(props, ops(s));
      return canonicalText(props);
    };
    const o = (x) => (Array.isArray(x) ? x.map(o) : typeof x === 'number' ? new Lit(String(x)) : x !== null && typeof x === 'object' ? new Obj(Object.entries(x).map(([k, v]) => [k, o(v)])) : x);
    assert.equal(run(o({ $set: { n: 1 } }), o({ $add: { n: 1 }, $set: { n: 5 } })), '{"n":6}');
    assert.equal(run(o({ $set: { l: ['a'] } }), o({ $remove: { l: 'b' }, $append: { l: 'b' } })), '{"l":["a"]}');
    assert.equal(run(o({ $set: { l: ['a', 'b'], p: ['a', 'b'] } }), o({ $append: { l: ['b', 'c'] }, $postInsert: { p: ['b', 'c', 'c'] } }), o({ $prepend: { l: ['a'] }, $preInsert: { p: ['z', 'a', 'y'] } })),
      '{"l":["a","a","b","b","c"],"p":["z","y","a","b","c"]}');
    assert.equal(run(o({ $set: { s: 'x', n: '12' } }), o({ $append: { s: 'y' }, $add: { n: 0.5, m: '7' } }), o({ $remove: { s: 'x' } })), '{"m":7,"n":12.5,"s":["y"]}');
    assert.equal(run(o({ $set: { s: 'x', t: 'y' } }), o({ $remove: { s: 'x', t: 'z' } })), '{"s":[],"t":"y"}');
    assert.equal(run(new Obj([['$set', new Obj([['a', new Lit('2.0')], ['b', [new Lit('1e2')]]])]]), new Obj([['$remove', new Obj([['b', new Lit('100')]])]])), '{"a":2,"b":[]}');
    assert.equal(run(o({ $setOnce: { s: 1 } }), o({ $unset: { s: '-' } }), o({ $setOnce: { s: 2 } })), '{"s":2}');
    assert.equal(run(new Obj([['$add', new Obj([['n', new Lit('18446744073709551615')]])]]), o({ $add: { n: 1 } })), '{"n":18446744073709552000}');
    assert.equal(run(new Obj([['$add', new Obj([['n', new Lit('1.7976931348623157e308')]])]]), new Obj([['$add', new Obj([['n', new Lit('1.7976931348623157e308')]])]])), '{"n":1.7976931348623157e+308}');
  });

  it(`${CASES} random sequences (seed ${SEED_USED}) read back as the model says, in both dialects`, async () => {
    const sdk = await sdkClients();
    const rng = makeRng(SEED_USED);
    const started = Date.now();
    const counts = { steps: 0, events: 0, refused: 0, sdk: 0 };
    for (let n = 0; n < CASES; n++) {
      const c = genCase(rng, n);
      for (const s of c.steps) {
        counts.steps += 1;
        if (s.events) {
          counts.events += s.events.length;
          if (new Model().refusal(stepEvents(s, c.users.map(() => ({ user_id: 'x' })))) !== null) counts.refused += 1;
        } else {
          counts.sdk += 1;
        }
      }
      const failure = await runCase(h.server, sdk, c);
      if (failure !== null) {
        const small = await shrink(h.server, sdk, c, failure);
        assert.fail(`case ${n} of seed ${SEED_USED} fails (PROFILED_PROPERTY_SEED=${SEED_USED} PROFILED_PROPERTY_CASES=${n + 1} runs it again).\n`
          + `Shrunk to:\n${describeCase(small.c)}\n${small.failure}\n\nThe case as generated:\n${describeCase(c)}\n${failure}`);
      }
    }
    console.log(`# properties: seed ${SEED_USED}, ${CASES} cases, ${counts.steps} steps (${counts.sdk} through the SDK, ${counts.refused} refused), ${counts.events} raw events, ${Date.now() - started} ms`);
  });
});
