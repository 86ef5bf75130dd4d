// Every config example in the documentation loads (issue 5 §4): each ```toml block of
// README.md and docs/*.md is a whole config, served by the real binary with
// --listen 127.0.0.1:0 and a fresh --data-dir (the two settings an example cannot know).
// A block that is only part of a config must be fenced ```toml fragment (GitHub still
// highlights it as TOML); such blocks are skipped here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, makeTempDir, runBinary, startServer } from './harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Returns [{file, line, info, text}] for every fenced block whose info string's first word
// is `toml`. Fences are ``` or longer runs of backticks, closed by a run at least as long.
export function tomlBlocks(markdown, file) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,})\s*([^`]*)$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const info = open[2].trim();
    const body = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^ {0,3}\`{${fence.length},}\\s*$`).test(lines[j])) body.push(lines[j++]);
    if (info.split(/\s+/)[0] === 'toml') blocks.push({ file, line: i + 1, info, text: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

function docFiles() {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f));
  return ['README.md', ...docs];
}

const blocks = docFiles().flatMap((f) => tomlBlocks(fs.readFileSync(path.join(root, f), 'utf8'), f));
const configs = blocks.filter((b) => b.info === 'toml');

describe('config examples in the docs', () => {
  it('the extractor finds whole configs and fragments, and the README has at least one config', () => {
    const md = ['```toml', 'a = 1', '```', '', '````toml fragment', '[x]', '```', '````', '```sh', 'ls', '```'].join('\n');
    assert.deepEqual(
      tomlBlocks(md, 'm.md').map((b) => [b.line, b.info, b.text]),
      [
        [1, 'toml', 'a = 1\n'],
        [5, 'toml fragment', '[x]\n```\n'],
      ],
    );
    assert.ok(
      configs.some((b) => b.file === 'README.md'),
      'README.md should hold a ```toml config example',
    );
  });

  it('a config example that does not load is caught (the README example of issue 5)', () => {
    // admin_token after [ingest] belongs to that table: the binary must refuse it, which
    // is what makes the test below able to fail.
    const dir = makeTempDir('profiled-e2e-docs-');
    const file = path.join(dir, 'bad.toml');
    fs.writeFileSync(file, '[ingest]\ndedup_window_days = 7\n\nadmin_token = "change-me"\n');
    const r = runBinary(['serve', '--config', file, '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')]);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /ingest\.admin_token/);
  });

  for (const block of configs) {
    it(`${block.file}:${block.line} loads and serves`, async () => {
      const server = await startServer({ config: block.text });
      try {
        const health = await server.request('GET', '/healthz');
        assert.equal(health.status, 200, health.text);
        assert.equal((await server.stop()).code, 0, server.logs);
      } finally {
        await server.dispose();
      }
    });
  }
});
