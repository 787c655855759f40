// The official OpenAI and Anthropic client libraries (npm `openai`, `@anthropic-ai/sdk`) against a
// real fakellm process: chat completion, a tool call round trip, a 429 with Retry-After and a 500.
// This proves fakellm's wire format against the clients researchers use, not only against ours.
// Run by run_clients.sh (FAKELLM=path/to/fakellm node --test clients.test.mjs).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

// One key per client: fakellm's rate limits are per key, so the two 429 tests do not interfere.
const KEY = 'sk-openai-client';
const ANTHROPIC_KEY = 'sk-anthropic-client';
const TOOL = {
  id: 'call_1',
  name: 'python',
  arguments: JSON.stringify({ code: 'print(6 * 7)' }),
};
// Scripted answers: conversation "tool" asks for a tool call first and answers after the tool
// result; every other conversation gets a plain answer.
const REPLAY = {
  sequences: {
    tool: [
      { tool_calls: [TOOL], finish_reason: 'tool_calls', usage: { input_tokens: 20, output_tokens: 9 } },
      { content: 'The result is <<<42>>>', finish_reason: 'stop', usage: { input_tokens: 40, output_tokens: 6 } },
    ],
    '*': [{ content: 'Hello from fakellm <<<7>>>', finish_reason: 'stop', usage: { input_tokens: 11, output_tokens: 5 } }],
  },
};

let server;
let base;
let dir;

async function startFakellm() {
  dir = mkdtempSync(join(tmpdir(), 'codesweep-clients-'));
  const replay = join(dir, 'replay.json');
  writeFileSync(replay, JSON.stringify(REPLAY));
  const bin = process.env.FAKELLM;
  assert.ok(bin, 'FAKELLM must name the fakellm binary');
  server = spawn(bin, ['--port', '0', '--replay', replay, '--valid-keys', `${KEY},${ANTHROPIC_KEY}`, '--latency-ms', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  await new Promise((resolve, reject) => {
    server.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve();
    });
    server.on('exit', (code) => reject(new Error(`fakellm exited with ${code} before printing its port`)));
  });
  const port = parseInt(out, 10);
  assert.ok(port > 0, `fakellm printed no port: ${JSON.stringify(out)}`);
  base = `http://127.0.0.1:${port}`;
}

async function setConfig(config) {
  const res = await fetch(`${base}/admin/config`, { method: 'POST', body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
}

before(startFakellm);
beforeEach(() => setConfig({ rpm: 0, tpm: 0, p_500: 0 }));
after(async () => {
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'fakellm exits 0 on SIGTERM');
});

const openai = () => new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: base, maxRetries: 0 });
const toolHeaders = { 'X-Codesweep-Conversation': 'tool' };

describe('openai client', () => {
  test('chat completion', async () => {
    const r = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, 'Hello from fakellm <<<7>>>');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 11);
    assert.equal(r.usage.completion_tokens, 5);
  });

  test('tool call round trip', async () => {
    const client = openai();
    const tools = [{
      type: 'function',
      function: { name: 'python', description: 'Run Python', parameters: { type: 'object', properties: { code: { type: 'string' } } } },
    }];
    const messages = [{ role: 'user', content: 'What is 6 * 7? Use python.' }];
    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools }, { headers: toolHeaders });
    const call = first.choices[0].message.tool_calls?.[0];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.type, 'function');
    assert.equal(call.id, TOOL.id);
    assert.equal(call.function.name, 'python');
    assert.deepEqual(JSON.parse(call.function.arguments), { code: 'print(6 * 7)' });
    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '42\n' });
    const second = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools }, { headers: toolHeaders });
    assert.equal(second.choices[0].message.content, 'The result is <<<42>>>');
  });

  test('429 with Retry-After', async () => {
    await setConfig({ rpm: 1, burst_s: 60 });
    const client = openai();
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'one' }] });
    await assert.rejects(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'two' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 429);
        assert.ok(Number(e.headers.get('retry-after')) >= 1, 'retry-after in whole seconds');
        assert.ok(Number(e.headers.get('retry-after-ms')) > 0);
        assert.ok(e.headers.get('x-ratelimit-remaining-requests') !== null);
        assert.equal(e.code, 'rate_limit_exceeded');
        assert.equal(e.type, 'requests');
        return true;
      });
  });

  test('500 is a server error with a parsed body', async () => {
    await setConfig({ p_500: 1 });
    await assert.rejects(
      openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.InternalServerError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 500);
        assert.match(e.message, /fakellm injected 500/);
        return true;
      });
  });

  test('a wrong key is an authentication error', async () => {
    const client = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${base}/v1`, maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
  });
});

describe('anthropic client', () => {
  test('a wrong key is an authentication error', async () => {
    const client = new Anthropic({ apiKey: 'sk-wrong', baseURL: base, maxRetries: 0 });
    await assert.rejects(
      client.messages.create({ model: 'c', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      (e) => {
        assert.ok(e instanceof Anthropic.AuthenticationError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.error?.error?.type, 'authentication_error', JSON.stringify(e.error));
        return true;
      });
  });

  test('message', async () => {
    const r = await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    assert.equal(r.type, 'message');
    assert.equal(r.role, 'assistant');
    assert.equal(r.content[0].type, 'text');
    assert.equal(r.content[0].text, 'Hello from fakellm <<<7>>>');
    assert.equal(r.stop_reason, 'end_turn');
    assert.equal(r.usage.input_tokens, 11);
    assert.equal(r.usage.output_tokens, 5);
  });

  test('tool use round trip', async () => {
    const client = anthropic();
    const tools = [{ name: 'python', description: 'Run Python', input_schema: { type: 'object', properties: { code: { type: 'string' } } } }];
    const messages = [{ role: 'user', content: 'What is 6 * 7? Use python.' }];
    const first = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages, tools }, { headers: toolHeaders });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use, `no tool_use block in ${JSON.stringify(first.content)}`);
    assert.equal(use.id, TOOL.id);
    assert.equal(use.name, 'python');
    assert.deepEqual(use.input, { code: 'print(6 * 7)' });
    messages.push({ role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '42\n' }] });
    const second = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages, tools }, { headers: toolHeaders });
    assert.equal(second.content[0].text, 'The result is <<<42>>>');
  });

  test('429 with Retry-After', async () => {
    await setConfig({ rpm: 1, burst_s: 60 });
    const client = anthropic();
    await client.messages.create({ model: 'c', max_tokens: 8, messages: [{ role: 'user', content: 'one' }] });
    await assert.rejects(
      client.messages.create({ model: 'c', max_tokens: 8, messages: [{ role: 'user', content: 'two' }] }),
      (e) => {
        assert.ok(e instanceof Anthropic.RateLimitError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 429);
        assert.ok(Number(e.headers.get('retry-after')) >= 1);
        assert.ok(e.headers.get('anthropic-ratelimit-requests-remaining') !== null);
        assert.equal(e.error?.error?.type, 'rate_limit_error', JSON.stringify(e.error));
        return true;
      });
  });

  test('500 is a server error with a parsed body', async () => {
    await setConfig({ p_500: 1 });
    await assert.rejects(
      anthropic().messages.create({ model: 'c', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      (e) => {
        assert.ok(e instanceof Anthropic.InternalServerError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 500);
        assert.equal(e.error?.error?.type, 'api_error', JSON.stringify(e.error));
        assert.match(e.message, /fakellm injected 500/);
        return true;
      });
  });
});
