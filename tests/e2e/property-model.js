// A reference model of user-property ingestion for properties.test.js: what a profile's
// user properties (and, for the Amplitude dialect, amp_props) must be after a sequence of
// ingestion requests, written to be read and checked by eye, not to be fast.
//
// The rules are docs/API.md's ("Per-event rules", "Semantics"), which follow Amplitude's
// documented behaviour (/work/shared/reference/amplitude.md) and state profiled's choices
// where Amplitude is silent. Nothing here looks at how the server does it.
//
// Values on the wire (what the generator sends) are plain JS values except:
//   - numbers are `Lit`s: the literal text to send ("2.0", "1e400", "-0"), so the model sees
//     exactly what the server parses;
//   - objects are `Obj`s: a list of [key, value] entries, so a key may be sent twice.
// Values in the model are null, booleans, strings, `Int` (an exact integer), `Dbl` (a
// finite double that is not an integer in the range integers are kept in), arrays and Maps.
// A number has one form in the model, the one its text as the server writes it reads back as:
// "2", "2.0" and "2e0" are all Int 2, because JSON says nothing about a number's spelling
// and a client cannot tell them apart after a read; a profile is what reading it shows.

import { mulberry32 } from './prng.js';

// ---- random numbers ----

// A small seeded PRNG (prng.js): the same seed gives the same cases on every machine.
export function makeRng(seed) {
  const next = mulberry32(seed);
  const rng = {
    next,
    int: (n) => Math.floor(next() * n), // 0 .. n-1
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
  };
  return rng;
}

// ---- wire values ----

export class Lit {
  constructor(text) {
    this.text = text;
  }
}

export class Obj {
  constructor(entries = []) {
    this.entries = entries;
  }
}

// The JSON text of a wire value, exactly as it goes out.
export function wireText(v) {
  if (v === null) return 'null';
  if (v === true || v === false) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return JSON.stringify(v);
  if (v instanceof Lit) return v.text;
  if (Array.isArray(v)) return `[${v.map(wireText).join(',')}]`;
  if (v instanceof Obj) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${wireText(x)}`).join(',')}}`;
  if (typeof v === 'object') return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${wireText(x)}`).join(',')}}`;
  throw new Error(`not a wire value: ${String(v)}`);
}

// The plain JS value an SDK is given for a wire value (numbers as JS numbers; no
// duplicated keys can survive this, so the SDK generator never makes them).
export function toJs(v) {
  if (v instanceof Lit) return Number(v.text);
  if (Array.isArray(v)) return v.map(toJs);
  if (v instanceof Obj) return Object.fromEntries(v.entries.map(([k, x]) => [k, toJs(x)]));
  return v;
}

// The wire value the SDK sends for a JS value (JSON.stringify's spelling of numbers).
export function fromJs(v) {
  if (typeof v === 'number') return new Lit(JSON.stringify(v));
  if (Array.isArray(v)) return v.map(fromJs);
  if (v !== null && typeof v === 'object') return new Obj(Object.entries(v).map(([k, x]) => [k, fromJs(x)]));
  return v;
}

// ---- model values ----

export class Int {
  constructor(big) {
    this.v = big;
  }
}

export class Dbl {
  constructor(d) {
    this.v = d;
  }
}

const INT_MIN = -(2n ** 63n);
const INT_END = 2n ** 64n; // integers are kept exactly from -2^63 to 2^64 - 1 (docs/API.md)

// A finite double as the model holds it: the number its JSON text reads back as. The server
// writes a double in its shortest form laid out as JavaScript's Number#toString (docs/API.md),
// so 2.0 is written 2, and 2^63 is written 9223372036854776000: text that reads back as an
// integer, which is what a client (or the server itself, reading its store) sees from then on.
function fromDouble(d) {
  if (!Number.isFinite(d)) throw new Error(`not finite: ${d}`);
  const text = String(d);
  if (/^-?\d+$/.test(text)) {
    const b = BigInt(text);
    if (b >= INT_MIN && b < INT_END) return new Int(b);
  }
  return new Dbl(d);
}

// The number a JSON literal is; undefined when it is beyond a double's range.
export function numberOf(text) {
  if (/^-?\d+$/.test(text)) {
    const b = BigInt(text);
    if (b >= INT_MIN && b < INT_END) return new Int(b);
  }
  const d = Number(text);
  return Number.isFinite(d) ? fromDouble(d) : undefined;
}

const MAX_STRING = 1024; // characters (code points); longer property strings are cut

function cut(s) {
  const chars = Array.from(s);
  return chars.length > MAX_STRING ? chars.slice(0, MAX_STRING).join('') : s;
}

// The model value of a wire value as the server reads it: long strings cut, a key sent
// twice reads as its last value.
export function modelOf(v) {
  if (v === null || v === true || v === false) return v;
  if (typeof v === 'string') return cut(v);
  if (v instanceof Lit) return numberOf(v.text);
  if (Array.isArray(v)) return v.map(modelOf);
  if (v instanceof Obj) {
    const m = new Map();
    for (const [k, x] of v.entries) {
      m.delete(k); // the last value counts; where it sits does not matter to anyone
      m.set(k, modelOf(x));
    }
    return m;
  }
  throw new Error(`not a wire value: ${String(v)}`);
}

export function equal(a, b) {
  if (a instanceof Int) return b instanceof Int && a.v === b.v;
  if (a instanceof Dbl) return b instanceof Dbl && a.v === b.v;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, x] of a) if (!b.has(k) || !equal(x, b.get(k))) return false;
    return true;
  }
  return a === b;
}

// Canonical JSON text of a model value: object keys sorted, numbers as docs/API.md says
// they read back (integers as they are, other numbers as JavaScript's Number#toString).
export function canonicalText(v) {
  if (v instanceof Int) return v.v.toString();
  if (v instanceof Dbl) return String(v.v);
  if (v === null || v === true || v === false) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalText).join(',')}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(v.get(k))}`).join(',')}}`;
  }
  throw new Error(`not a model value: ${String(v)}`);
}

// ---- the ten operations (docs/API.md "Semantics"; src/ingest/property_ops.h is not read) ----

export const OPS = ['$clearAll', '$unset', '$set', '$setOnce', '$add', '$append', '$prepend', '$preInsert', '$postInsert', '$remove'];
const MAX_ARRAY = 1000;
const MAX_PROPERTIES = 1000;

// The number $add reads: a number, or a string holding exactly a finite decimal number.
export function readNumber(v) {
  if (v instanceof Int || v instanceof Dbl) return v;
  if (typeof v !== 'string') return undefined;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return undefined;
  return numberOf(v);
}

function toDouble(n) {
  return n instanceof Int ? Number(n.v) : n.v;
}

// a + b; undefined when the sum is beyond a double's range (the value then stays).
function add(a, b) {
  if (a instanceof Int && b instanceof Int) {
    const r = a.v + b.v;
    if (r >= INT_MIN && r < INT_END) return new Int(r);
  }
  const d = toDouble(a) + toDouble(b);
  return Number.isFinite(d) ? fromDouble(d) : undefined;
}

const valuesOf = (v) => (Array.isArray(v) ? v : [v]);
const asArray = (v) => (Array.isArray(v) ? [...v] : [v]);
const contains = (list, v) => list.some((x) => equal(x, v));

// Applies one event's operations, [[op, key, value]] in the order given, to `props` (a Map).
// The event's operations are put in Amplitude's order first (stable within one op).
export function applyOps(props, ops) {
  const sorted = [...ops].sort((x, y) => OPS.indexOf(x[0]) - OPS.indexOf(y[0]));
  for (const [op, key, value] of sorted) {
    const creates = op !== '$clearAll' && op !== '$unset' && op !== '$remove';
    if (creates && props.size >= MAX_PROPERTIES && !props.has(key)) continue;
    const has = props.has(key);
    const old = props.get(key);
    switch (op) {
      case '$clearAll':
        props.clear();
        break;
      case '$unset':
        props.delete(key);
        break;
      case '$setOnce':
        if (has) break;
      // falls through
      case '$set':
        props.set(key, Array.isArray(value) ? value.slice(0, MAX_ARRAY) : value);
        break;
      case '$add': {
        const delta = readNumber(value);
        if (!has) {
          props.set(key, delta);
          break;
        }
        const current = readNumber(old);
        const sum = current === undefined ? undefined : add(current, delta);
        if (sum !== undefined) props.set(key, sum);
        break;
      }
      case '$append':
      case '$postInsert': {
        const result = has ? asArray(old) : [];
        for (const v of valuesOf(value)) if (op === '$append' || !contains(result, v)) result.push(v);
        props.set(key, result.slice(Math.max(0, result.length - MAX_ARRAY)));
        break;
      }
      case '$prepend':
      case '$preInsert': {
        const existing = has ? asArray(old) : [];
        const front = [];
        for (const v of valuesOf(value)) {
          if (op === '$preInsert' && (contains(existing, v) || contains(front, v))) continue;
          front.push(v);
        }
        props.set(key, [...front, ...existing].slice(0, MAX_ARRAY));
        break;
      }
      case '$remove': {
        if (!has) break;
        const values = valuesOf(value);
        if (!Array.isArray(old) && !contains(values, old)) break;
        props.set(key, asArray(old).filter((x) => !contains(values, x)));
        break;
      }
      default:
        throw new Error(`unknown op ${op}`);
    }
  }
}

// ---- validation: which events the server must refuse (docs/API.md "Per-event rules") ----

// How many containers deep a wire value nests (a scalar is 0).
function depthOf(v) {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v instanceof Obj) return 1 + Math.max(0, ...v.entries.map(([, x]) => depthOf(x)));
  return 0;
}

function hasNonFinite(v) {
  if (v instanceof Lit) return numberOf(v.text) === undefined;
  if (Array.isArray(v)) return v.some(hasNonFinite);
  if (v instanceof Obj) return v.entries.some(([, x]) => hasNonFinite(x));
  return false;
}

function hasLoneSurrogate(v) {
  if (typeof v === 'string') return /\p{Surrogate}/u.test(v);
  if (Array.isArray(v)) return v.some(hasLoneSurrogate);
  if (v instanceof Obj) return v.entries.some(([k, x]) => hasLoneSurrogate(k) || hasLoneSurrogate(x));
  return false;
}

// An Obj's entries with a key sent twice read as its last value.
function lastEntries(o) {
  const m = new Map();
  for (const [k, v] of o.entries) {
    m.delete(k);
    m.set(k, v);
  }
  return [...m];
}

const MAX_DEPTH = 40; // property values nest at most 40 levels below user_properties

// The operations an event's user_properties (a wire value, or undefined) means, as
// [[op, key, modelValue]], or {refused: why}. Plain keys mean $set.
export function opsOf(up) {
  if (up === undefined || up === null) return { ops: [] };
  if (!(up instanceof Obj)) return { refused: 'user_properties is not an object' };
  if (hasNonFinite(up)) return { refused: 'a number beyond a double' };
  if (depthOf(up) > MAX_DEPTH + 1) return { refused: 'nests deeper than 40 levels' };
  const entries = lastEntries(up);
  const isOp = entries.map(([k]) => k.startsWith('$'));
  if (isOp.some((x) => x) && isOp.some((x) => !x)) return { refused: 'operations mixed with plain keys' };
  const long = (k) => Array.from(k).length > MAX_STRING;
  if (!isOp.some((x) => x)) {
    if (entries.some(([k]) => long(k))) return { refused: 'a name longer than 1024 characters' };
    return { ops: entries.map(([k, v]) => ['$set', k, modelOf(v)]) };
  }
  const ops = [];
  for (const [op, body] of entries) {
    if (!OPS.includes(op)) return { refused: `unknown operation ${op}` };
    if (op === '$clearAll') {
      ops.push([op, '', null]);
      continue;
    }
    if (!(body instanceof Obj)) return { refused: `${op} is not an object` };
    for (const [k, v] of modelOf(body)) {
      if (long(k)) return { refused: 'a name longer than 1024 characters' };
      if (op === '$add' && readNumber(v) === undefined) return { refused: '$add of something not a number' };
      ops.push([op, k, v]);
    }
  }
  return { ops };
}

// ---- users and requests ----

const utcDate = (ms) => new Date(ms).toISOString().slice(0, 10);

export class Model {
  constructor() {
    this.users = new Map(); // user_id -> {props, builtins, insertIds}
  }

  user(id) {
    if (!this.users.has(id)) this.users.set(id, { props: new Map(), builtins: new Map(), insertIds: new Set() });
    return this.users.get(id);
  }

  // Whether the server must refuse a request with these events ({user_id, device_id?,
  // event_type, time, insert_id?, user_properties?, $skip_user_properties_sync?, library?}): a reason, or null. One refused event refuses the whole request.
  refusal(events) {
    for (const [i, e] of events.entries()) {
      if (hasLoneSurrogate(e.user_properties)) return `events[${i}]: a lone surrogate in JSON text`;
      const r = opsOf(e.user_properties);
      if (r.refused) return `events[${i}]: ${r.refused}`;
    }
    return null;
  }

  // Applies a request the server accepted (REQUIRES: refusal(events) is null).
  apply(events) {
    for (const e of events) {
      const u = this.user(e.user_id);
      // Each user sends from one device of its own (or none), so de-duplication per
      // device is per user here.
      if (e.insert_id !== undefined) {
        if (u.insertIds.has(e.insert_id)) continue;
        u.insertIds.add(e.insert_id);
      }
      u.seen = true;
      if (e.library !== undefined) u.builtins.set('library', e.library);
      if (e.event_type !== '$identify' && e.event_type !== '$groupidentify') {
        const day = utcDate(e.time);
        if (!u.builtins.has('first_used') || day < u.builtins.get('first_used')) u.builtins.set('first_used', day);
        if (!u.builtins.has('last_used') || day > u.builtins.get('last_used')) u.builtins.set('last_used', day);
      }
      if (e.$skip_user_properties_sync === true || e.event_type === '$groupidentify') continue;
      applyOps(u.props, opsOf(e.user_properties).ops);
    }
  }

  // What the seed dialect's user_properties must be (undefined: the user is unknown, 404).
  seedProperties(id) {
    const u = this.users.get(id);
    return u?.seen ? u.props : undefined;
  }

  // What the Amplitude dialect's amp_props must be (get_amp_props=true): the built-in
  // fields, then the user properties (a user property wins over a built-in of its name).
  ampProps(id) {
    const u = this.users.get(id);
    if (!u?.seen) return undefined;
    const all = new Map(u.builtins);
    for (const [k, v] of u.props) all.set(k, v);
    return all;
  }
}

// ---- reading the server's answer ----

// A JSON text as a tree: objects as Maps, arrays as arrays, and every scalar as {text}, its
// canonical text (a number's text exactly as the server wrote it). Throws on anything that is
// not JSON, and on a key written twice in one object.
export function parseTree(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (what) => {
    throw new Error(`${what} at offset ${i} of ${JSON.stringify(text.slice(Math.max(0, i - 60), i + 60))}`);
  };
  const string = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      i++;
      const isObject = c === '{';
      const out = isObject ? new Map() : [];
      ws();
      if (text[i] === (isObject ? '}' : ']')) {
        i++;
        return out;
      }
      for (;;) {
        if (isObject) {
          ws();
          if (text[i] !== '"') fail('expected a key');
          const k = string();
          if (out.has(k)) fail(`key ${JSON.stringify(k)} twice`);
          ws();
          if (text[i++] !== ':') fail('expected :');
          out.set(k, value());
        } else {
          out.push(value());
        }
        ws();
        const sep = text[i++];
        if (sep === ',') continue;
        if (sep !== (isObject ? '}' : ']')) fail('expected a separator');
        return out;
      }
    }
    if (c === '"') return { text: JSON.stringify(string()) };
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return { text: word };
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('expected a value');
    i += m[0].length;
    return { text: m[0] };
  };
  const v = value();
  ws();
  if (i !== text.length) fail('text after the value');
  return v;
}

// The canonical text of a tree (object keys sorted, as canonicalText sorts them).
export function treeText(t) {
  if (Array.isArray(t)) return `[${t.map(treeText).join(',')}]`;
  if (t instanceof Map) {
    const keys = [...t.keys()].sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${treeText(t.get(k))}`).join(',')}}`;
  }
  return t.text;
}
