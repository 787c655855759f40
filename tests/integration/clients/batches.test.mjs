// fakellm's batch APIs against the official clients (npm `openai`, `@anthropic-ai/sdk`): OpenAI
// Files + Batches and Anthropic Message Batches round-trip with the documented shapes — upload,
// create, retrieve, list, cancel, output and error files, results JSONL — including per-request
// failures, expiry with requests unfinished, an upload refused for size and the enqueued-token
// limit. Run by run_clients.sh (FAKELLM=path/to/fakellm node --test batches.test.mjs).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const KEY = 'sk-batch-client';
const REPLAY = {
  default: { content: 'Batched answer <<<7>>>', finish_reason: 'stop', usage: { input_tokens: 12, output_tokens: 4 } },
};

let server;
let base;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'codesweep-batches-'));
  const replay = join(dir, 'replay.json');
  writeFileSync(replay, JSON.stringify(REPLAY));
  server = spawn(process.env.FAKELLM, ['--port', '0', '--replay', replay, '--valid-keys', KEY], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  await new Promise((resolve, reject) => {
    server.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve();
    });
    server.on('exit', (code) => reject(new Error(`fakellm exited with ${code}`)));
  });
  base = `http://127.0.0.1:${parseInt(out, 10)}`;
});
after(async () => {
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'fakellm exits 0 on SIGTERM');
});

async function batchConfig(config) {
  const res = await fetch(`${base}/admin/batches/config`, { method: 'POST', body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
}
async function stats() {
  return (await (await fetch(`${base}/stats`)).json()).batch;
}
beforeEach(() => batchConfig({ delay_ms: 300, p_fail: 0, expire_fraction: 0, max_enqueued_tokens: 0, max_file_bytes: 200 << 20 }));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const openai = () => new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: KEY, baseURL: base, maxRetries: 0 });

function jsonl(ids) {
  return ids
    .map((id) => JSON.stringify({
      custom_id: id,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${id}` }], max_tokens: 20 },
    }))
    .join('\n') + '\n';
}

async function openaiBatch(client, ids) {
  const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(ids)), 'batch.jsonl'), purpose: 'batch' });
  assert.equal(file.purpose, 'batch');
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
}

async function waitOpenAi(client, id) {
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (['completed', 'expired', 'cancelled', 'failed'].includes(b.status)) return b;
    await sleep(100);
  }
}

async function lines(client, fileId) {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

describe('openai batches', () => {
  test('upload, create, poll, read the output file', async () => {
    const client = openai();
    const created = await openaiBatch(client, ['k1', 'k2', 'k3']);
    assert.equal(created.object, 'batch');
    assert.equal(created.status, 'in_progress');
    assert.deepEqual(created.request_counts, { total: 3, completed: 0, failed: 0 });
    const done = await waitOpenAi(client, created.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 3, completed: 3, failed: 0 });
    assert.equal(done.error_file_id, null);
    const out = await lines(client, done.output_file_id);
    assert.deepEqual(out.map((l) => l.custom_id).sort(), ['k1', 'k2', 'k3']);
    for (const l of out) {
      assert.equal(l.response.status_code, 200);
      assert.equal(l.response.body.choices[0].message.content, 'Batched answer <<<7>>>');
      assert.equal(l.response.body.usage.prompt_tokens, 12);
      assert.equal(l.error, null);
    }
    const list = await client.batches.list();
    assert.ok(list.data.some((b) => b.id === created.id));
  });

  test('per-request failures go to the error file', async () => {
    await batchConfig({ p_fail: 0.5 });
    const client = openai();
    const ids = Array.from({ length: 40 }, (_, i) => `f${i}`);
    const done = await waitOpenAi(client, (await openaiBatch(client, ids)).id);
    assert.equal(done.status, 'completed');
    const ok = await lines(client, done.output_file_id);
    const bad = await lines(client, done.error_file_id);
    assert.ok(bad.length > 5 && ok.length > 5, `${ok.length} ok, ${bad.length} failed`);
    assert.equal(ok.length + bad.length, 40);
    assert.equal(done.request_counts.failed, bad.length);
    assert.equal(bad[0].response.status_code, 500);
  });

  test('an expired batch reports its unfinished requests as batch_expired', async () => {
    await batchConfig({ expire_fraction: 0.5 });
    const client = openai();
    const done = await waitOpenAi(client, (await openaiBatch(client, ['e1', 'e2', 'e3', 'e4'])).id);
    assert.equal(done.status, 'expired');
    assert.equal((await lines(client, done.output_file_id)).length, 2);
    const expired = await lines(client, done.error_file_id);
    assert.equal(expired.length, 2);
    assert.equal(expired[0].error.code, 'batch_expired');
  });

  test('cancel ends a batch with its requests cancelled', async () => {
    await batchConfig({ delay_ms: 60000 });
    const client = openai();
    const created = await openaiBatch(client, ['c1', 'c2']);
    const cancelling = await client.batches.cancel(created.id);
    assert.equal(cancelling.status, 'cancelling');
    const done = await waitOpenAi(client, created.id);
    assert.equal(done.status, 'cancelled');
    const errs = await lines(client, done.error_file_id);
    assert.deepEqual(errs.map((l) => l.error.code), ['batch_cancelled', 'batch_cancelled']);
  });

  test('an upload over the size limit is refused, and the token limit fails a batch', async () => {
    await batchConfig({ max_file_bytes: 100 });
    const client = openai();
    await assert.rejects(
      client.files.create({ file: await toFile(Buffer.from(jsonl(['big'])), 'big.jsonl'), purpose: 'batch' }),
      (e) => e.status === 400 && /too large/.test(e.message),
    );
    await batchConfig({ max_file_bytes: 200 << 20, max_enqueued_tokens: 10 });
    const failed = await openaiBatch(client, ['t1']);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.errors.data[0].code, 'token_limit_exceeded');
  });

  test('fakellm counts every custom_id it was given', async () => {
    const before = await stats();
    const client = openai();
    await waitOpenAi(client, (await openaiBatch(client, ['once1', 'once2'])).id);
    const now = await stats();
    assert.equal(now.lines_received - before.lines_received, 2);
    assert.equal(now.custom_ids_submitted_twice, before.custom_ids_submitted_twice);
  });
});

describe('anthropic message batches', () => {
  const params = (q) => ({ model: 'claude-3-5-haiku-latest', max_tokens: 20, messages: [{ role: 'user', content: q }] });

  test('create, poll, stream results', async () => {
    const client = anthropic();
    const created = await client.messages.batches.create({
      requests: [{ custom_id: 'a1', params: params('one') }, { custom_id: 'a2', params: params('two') }],
    });
    assert.equal(created.type, 'message_batch');
    assert.equal(created.processing_status, 'in_progress');
    assert.equal(created.request_counts.processing, 2);
    let b = created;
    while (b.processing_status !== 'ended') {
      await sleep(100);
      b = await client.messages.batches.retrieve(created.id);
    }
    assert.equal(b.request_counts.succeeded, 2);
    const results = [];
    for await (const r of await client.messages.batches.results(created.id)) results.push(r);
    assert.deepEqual(results.map((r) => r.custom_id).sort(), ['a1', 'a2']);
    for (const r of results) {
      assert.equal(r.result.type, 'succeeded');
      assert.equal(r.result.message.content[0].text, 'Batched answer <<<7>>>');
      assert.equal(r.result.message.usage.input_tokens, 12);
    }
    const page = await client.messages.batches.list();
    assert.ok(page.data.some((x) => x.id === created.id));
  });

  test('errored, expired and canceled results', async () => {
    const client = anthropic();
    await batchConfig({ p_fail: 1 });
    const failing = await client.messages.batches.create({ requests: [{ custom_id: 'x1', params: params('x') }] });
    await sleep(400);
    const failed = [];
    for await (const r of await client.messages.batches.results(failing.id)) failed.push(r);
    assert.equal(failed[0].result.type, 'errored');
    assert.equal(failed[0].result.error.error.type, 'api_error');

    await batchConfig({ p_fail: 0, expire_fraction: 1 });
    const expiring = await client.messages.batches.create({ requests: [{ custom_id: 'y1', params: params('y') }] });
    await sleep(400);
    const expired = [];
    for await (const r of await client.messages.batches.results(expiring.id)) expired.push(r);
    assert.equal(expired[0].result.type, 'expired');

    await batchConfig({ expire_fraction: 0, delay_ms: 60000 });
    const cancelled = await client.messages.batches.create({ requests: [{ custom_id: 'z1', params: params('z') }] });
    const c = await client.messages.batches.cancel(cancelled.id);
    assert.equal(c.processing_status, 'canceling');
    const ended = await client.messages.batches.retrieve(cancelled.id);
    assert.equal(ended.processing_status, 'ended');
    assert.equal(ended.request_counts.canceled, 1);
  });

  test('bad requests are refused with the documented error shape', async () => {
    const client = anthropic();
    await assert.rejects(
      client.messages.batches.create({ requests: [{ custom_id: 'bad id!', params: params('q') }] }),
      (e) => e.status === 400 && e.error.error.type === 'invalid_request_error',
    );
    await assert.rejects(
      client.messages.batches.create({
        requests: [{ custom_id: 'd', params: params('q') }, { custom_id: 'd', params: params('q') }],
      }),
      (e) => e.status === 400,
    );
  });
});
