// GET /openapi.json (issue 10 item 6): the binary serves docs/openapi.json byte for byte; the
// document is OpenAPI 3.1 whose every schema and reference compiles; every route the server
// matches is in it. That every answer agrees with it is checked by harness.js on each answer
// of every e2e file (openapi.js), which this file also shows can fail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, SEED, sharedServer } from './harness.js';
import { OPENAPI, OPENAPI_TEXT, openApiProblems, templateOf } from './openapi.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

describe('GET /openapi.json', () => {
  const h = sharedServer();

  it('serves docs/openapi.json byte for byte, as JSON', async () => {
    const res = await h.server.request('GET', '/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.text, OPENAPI_TEXT);
  });

  it('is OpenAPI 3.1: every operation has an id and responses, every schema and $ref compiles', () => {
    assert.equal(OPENAPI.openapi, '3.1.0');
    const ids = new Set();
    let operations = 0;
    for (const [template, item] of Object.entries(OPENAPI.paths)) {
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
        const op = item[method];
        operations++;
        assert.ok(Object.keys(op.responses ?? {}).length > 0, `${method} ${template} has responses`);
        if (method !== 'options') {
          assert.ok(op.operationId && !ids.has(op.operationId), `${method} ${template}: a unique operationId`);
          ids.add(op.operationId);
        }
        for (const status of Object.keys(op.responses)) {
          // A conforming answer and a clearly wrong one for each documented JSON response: the
          // schema compiles (openApiProblems throws on a $ref that does not resolve).
          openApiProblems(method, template.replace(/\{[^}]+\}/g, 'x'), Number(status), 'application/json', '{}');
        }
      }
    }
    assert.ok(operations >= 25, `${operations} operations`);
  });

  it('documents every route the server matches (the exact paths of src/server/routes.cc and the families below it)', () => {
    const routes = fs.readFileSync(path.join(root, 'src/server/routes.cc'), 'utf8');
    const exact = [...routes.matchAll(/path == "([^"]+)"/g)].map((m) => m[1]);
    assert.ok(exact.length >= 7, `exact paths found: ${exact}`);
    const families = [
      '/admin/v1/projects/p/computations',
      '/admin/v1/projects/p/cohorts/c1',
      '/admin/v1/projects/p/recommendations/r1/train',
      '/admin/v1/projects/p/recommendations/r1/report',
      '/admin/v1/projects/p/cohorts/c1/members',
      '/admin/v1/testing/clock',
      '/admin/v1/projects',
      '/admin/v1/stats',
      '/admin/v1/projects/p/users',
      '/api/3/cohorts/upload',
      '/api/3/cohorts/membership',
      '/api/5/cohorts/request/c1',
      '/api/5/cohorts/request-status/r1',
      '/api/5/cohorts/request/r1/file',
      '/console/app.js',
    ];
    for (const p of [...exact, ...families]) assert.ok(templateOf(p), `${p} is not in docs/openapi.json`);
  });

  it('the check catches an answer the document does not allow', () => {
    // A seed-dialect profile without cohort_ids, an ingestion answer without code, an
    // undocumented status, a wrong content type, a wrong method that is not 405.
    const profile = '{"userData":{"amplitude_id":1,"user_properties":{},"computed_properties":{}}}';
    assert.notDeepEqual(openApiProblems('GET', '/v1/userprofile', 200, 'application/json', profile), []);
    assert.notDeepEqual(openApiProblems('POST', '/2/httpapi', 200, 'application/json', '{"events_ingested":1}'), []);
    assert.notDeepEqual(openApiProblems('GET', '/healthz', 418, 'text/plain', 'ok\n'), []);
    assert.notDeepEqual(openApiProblems('GET', '/metrics', 200, 'application/json', '{}'), []);
    assert.notDeepEqual(openApiProblems('DELETE', '/healthz', 200, 'text/plain', 'ok\n'), []);
    assert.deepEqual(openApiProblems('DELETE', '/healthz', 405, 'application/json', '{"code":405,"error":"Method not allowed on this path"}'), []);
  });

  it('a real profile read conforms (both dialects are described)', async () => {
    await h.server.trackOk([{ user_id: 'openapi-user-1', event_type: 'x', user_properties: { a: 1 } }]);
    const res = await h.server.request('GET', '/v1/userprofile?user_id=openapi-user-1', {
      headers: { Authorization: `Api-Key ${SEED.secret_key}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(openApiProblems('GET', '/v1/userprofile', 200, res.headers['content-type'], res.text), []);
  });
});
