// The seed dialect's contract, checked: a small JSON Schema validator for the subset the
// seed OpenAPI document uses, and the seed's UserProfileResponse schema.
//
// The schema comes from tests/e2e/seed/amplitude-user-profile-api-openapi.json, a JSON copy
// of ../shared/seed/amplitude-user-profile-api-openapi.yml (see tests/e2e/seed/README.md).
// Keywords supported: type (incl. lists), properties, required, additionalProperties
// (boolean or schema), items, enum, $ref (local "#/..."), format int32/int64. Any other
// keyword that constrains a value throws, so a schema change cannot be silently ignored.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SEED_OPENAPI_PATH = path.join(here, 'seed/amplitude-user-profile-api-openapi.json');
export const SEED_OPENAPI = JSON.parse(fs.readFileSync(SEED_OPENAPI_PATH, 'utf8'));

// Keywords that describe but do not constrain.
const ANNOTATIONS = new Set(['description', 'title', 'example', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly']);
const INT_RANGES = { int32: 2 ** 31, int64: 2 ** 63 };

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // string, boolean, object
}

function resolve(doc, ref) {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let node = doc;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return node;
}

// Returns a list of "<json path>: <problem>" strings; empty when `value` is valid.
export function validate(schema, value, doc = SEED_OPENAPI, at = '$') {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${at}: no value is allowed here`];
  const errors = [];
  for (const key of Object.keys(schema)) {
    const known = ['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', '$ref', 'format'];
    if (!known.includes(key) && !ANNOTATIONS.has(key) && !key.startsWith('x-')) {
      throw new Error(`seed-schema.js does not implement the keyword "${key}" (at ${at})`);
    }
  }
  if (schema.$ref) errors.push(...validate(resolve(doc, schema.$ref), value, doc, at));
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const allowed = [].concat(schema.type);
    const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
    if (!ok) {
      errors.push(`${at}: expected ${allowed.join(' or ')}, got ${actual} ${JSON.stringify(value)}`);
      return errors;
    }
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.format in INT_RANGES && actual === 'integer') {
    const r = INT_RANGES[schema.format];
    if (value < -r || value >= r) errors.push(`${at}: ${value} is out of the ${schema.format} range`);
  }
  if (actual === 'object') {
    for (const name of schema.required ?? []) {
      if (!(name in value)) errors.push(`${at}: missing required property "${name}"`);
    }
    const props = schema.properties ?? {};
    for (const [name, v] of Object.entries(value)) {
      const where = `${at}.${name}`;
      if (name in props) errors.push(...validate(props[name], v, doc, where));
      else if (schema.additionalProperties !== undefined) errors.push(...validate(schema.additionalProperties, v, doc, where));
    }
  }
  if (actual === 'array' && schema.items !== undefined) {
    value.forEach((v, i) => errors.push(...validate(schema.items, v, doc, `${at}[${i}]`)));
  }
  return errors;
}

// The schema of a 200 from GET /v1/userprofile, taken from the operation itself.
export const USER_PROFILE_200 = SEED_OPENAPI.paths['/v1/userprofile'].get.responses['200'].content['application/json'].schema;

// Validates a parsed seed-dialect 200 body; returns the list of problems.
export function validateSeedProfile(body) {
  return validate(USER_PROFILE_200, body);
}
