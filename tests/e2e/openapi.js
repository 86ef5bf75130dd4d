// docs/openapi.json, checked against real answers: `openApiProblems` tells how an answer
// differs from what the document says of its path, method and status (JSON bodies through
// the document's JSON Schema 2020-12 schemas, with Ajv). harness.js runs it on every answer
// `request()` receives from a profiled server, so each e2e test also keeps the document true.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const OPENAPI_PATH = path.resolve(here, '../../docs/openapi.json');
export const OPENAPI_TEXT = fs.readFileSync(OPENAPI_PATH, 'utf8');
export const OPENAPI = JSON.parse(OPENAPI_TEXT);

const ajv = new Ajv2020({ strict: false, allErrors: true });
// The document itself, so that "#/components/..." references resolve from any schema in it.
ajv.addSchema({ ...OPENAPI, $id: 'openapi.json' });

// Templated paths as regular expressions, the most literal first (so /a/b/{x} is preferred
// to /a/{y}/{x}).
const routes = Object.keys(OPENAPI.paths)
  .map((template) => {
    const parts = template.split('/');
    const literal = parts.filter((p) => p && !p.startsWith('{')).length;
    const re = new RegExp(`^${parts.map((p) => (p.startsWith('{') ? '[^/]+' : p.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`);
    return { template, re, literal };
  })
  .sort((a, b) => b.literal - a.literal);

// The document's path template for a request path, or undefined.
export function templateOf(pathname) {
  return routes.find((r) => r.re.test(pathname))?.template;
}

const resolveRef = (node) => {
  let n = node;
  while (n?.$ref) {
    n = n.$ref
      .slice(2)
      .split('/')
      .reduce((o, k) => o?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], OPENAPI);
  }
  return n;
};

const validators = new Map();
function validatorFor(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.getSchema(`openapi.json#${pointer}`));
  return validators.get(pointer);
}
const escape = (k) => k.replaceAll('~', '~0').replaceAll('/', '~1');

// Problems (strings) of an answer to `method pathname`: an undocumented method or status, a
// content type the document does not list, a body its schema refuses. [] when it conforms, and
// for a path the document does not have (unknown paths are tested for their 404s).
export function openApiProblems(method, pathname, status, contentType, text) {
  const template = templateOf(pathname);
  if (template === undefined) return [];
  const m = method.toLowerCase();
  const op = OPENAPI.paths[template][m];
  const where = `${method} ${pathname} (${template})`;
  // A method the document does not list for a path answers 405 (info.description).
  if (!op) return status === 405 ? [] : [`${where}: the method is not documented, and the answer is ${status}, not 405`];
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => op.responses[k]);
  if (!key) return [`${where}: status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`];
  const response = resolveRef(op.responses[key]);
  if (!response.content) {
    return text === '' ? [] : [`${where} ${status}: the document says no body, got ${JSON.stringify(text.slice(0, 200))}`];
  }
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (!(media in response.content)) {
    return [`${where} ${status}: content type ${JSON.stringify(contentType)} is not documented (documented: ${Object.keys(response.content).join(', ')})`];
  }
  // The schema's JSON pointer inside the document, through the response's own $ref if any.
  const responsePointer = op.responses[key].$ref
    ? op.responses[key].$ref.slice(1)
    : `/paths/${escape(template)}/${m}/responses/${key}`;
  const validate = validatorFor(`${responsePointer}/content/${escape(media)}/schema`);
  let value = text;
  if (media === 'application/json') {
    try {
      value = JSON.parse(text);
    } catch {
      return [`${where} ${status}: the body is not JSON: ${JSON.stringify(text.slice(0, 200))}`];
    }
  }
  if (validate(value)) return [];
  return validate.errors.map((e) => `${where} ${status}: ${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}; body ${text.slice(0, 300)}`);
}
