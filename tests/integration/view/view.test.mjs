// `codesweep view` in a real browser: a simulated sweep run by the real `codesweep run`, one cell
// planted with hostile text, the real server, and Debian's chromium driven by playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CODESWEEP = process.env.CODESWEEP;
const SHOTS = process.env.CODESWEEP_VIEW_SCREENSHOTS || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'codesweep-view-'));
const children = [];
let browser, base, db, hostileId, execCell;

const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">' +
  '<a href="javascript:window.__pwned = 3">click</a> [md](javascript:window.__pwned=4) \u001b[31mRED\u001b[0m \u001b]0;title\u0007';

function sql(file, statement, ...args) {
  const py = 'import json, sqlite3, sys\n' +
    'c = sqlite3.connect(sys.argv[1])\n' +
    'rows = c.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall()\n' +
    'c.commit()\n' +
    'print(json.dumps(rows))\n';
  const r = spawnSync('python3', ['-c', py, file, statement, JSON.stringify(args)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function runSweep(name, body) {
  const toml = join(dir, name + '.toml'), file = join(dir, name + '.db');
  writeFileSync(toml, body);
  return { toml, file };
}

const TINY = 'name = "tiny"\nseed = 7\nsamples = 3\nmethods = ["only_question", "all_code"]\nturns = [1]\n' +
  '[[tasks]]\nname = "game24"\ncomplexity = ["2", "3"]\n[[tasks]]\nname = "number_multiply"\ncomplexity = ["1_2", "2_2"]\n' +
  '[models."sim:strong"]\np_correct = 0.9\np_code = 0.6\n[models."sim:weak"]\np_correct = 0.5\np_code = 0.6\n';

// Starts `codesweep view` on `file` and resolves with its address.
function startView(file) {
  const p = spawn(CODESWEEP, ['view', '--db', file, '--bind', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  return new Promise((resolve, reject) => {
    let out = '', err = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/at (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => reject(new Error('codesweep view exited ' + code + ': ' + err)));
  });
}

async function openPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(m.text()); });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  page.on('dialog', (d) => { page.problems.push('dialog: ' + d.message()); d.dismiss(); });
  return page;
}

async function visit(page, route, pageName) {
  await page.goto(base + route);
  await page.waitForSelector(`body[data-ready="${pageName}"] #app > div[data-page="${pageName}"]`);
}

before(async () => {
  const { toml, file } = runSweep('tiny', TINY);
  db = file;
  const run = spawnSync(CODESWEEP, ['run', toml, '--db', file, '--quiet'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  // One cell gets hostile text in its reply, answer, code and output; another fails with it.
  [[hostileId]] = sql(file, 'SELECT job_id FROM executions ORDER BY job_id LIMIT 1');
  sql(file, 'UPDATE results SET final_answer = ?, verdict_reason = ? WHERE job_id = ?', HOSTILE, HOSTILE, hostileId);
  sql(file, 'UPDATE calls SET response_json = ? WHERE job_id = ?',
    JSON.stringify({ content: HOSTILE, tool_calls: [{ id: '1', name: HOSTILE, arguments: HOSTILE }], finish_reason: 'stop' }), hostileId);
  sql(file, 'UPDATE executions SET code = ?, stdout_text = ? WHERE job_id = ?', 'print("x")  # ' + HOSTILE, HOSTILE, hostileId);
  const [[failId]] = sql(file, 'SELECT max(id) FROM jobs');
  sql(file, "UPDATE jobs SET state = 'failed', last_error = ? WHERE id = ?", 'worker lost ' + HOSTILE, failId);
  sql(file, 'DELETE FROM results WHERE job_id = ?', failId);
  [[execCell]] = sql(file, 'SELECT job_id FROM executions WHERE job_id <> ? AND stdout_text <> \'\' ORDER BY job_id LIMIT 1', hostileId);
  base = await startView(file);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  for (const p of children) p.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const PAGES = [
  ['sweeps', '#/sweeps'],
  ['results', '#/results?sweep=tiny'],
  ['cells', '#/cells?sweep=tiny'],
  ['cell', null],
  ['compare', '#/compare?sweep=tiny&dim=method&a=only_question&b=all_code&model=sim%3Astrong'],
  ['errors', '#/errors?sweep=tiny'],
  ['charts', '#/charts?sweep=tiny'],
];

test('every page loads with no console error', async () => {
  const page = await openPage();
  for (const [name, route] of PAGES) {
    await visit(page, route || '#/cell/' + execCell, name);
    if (name === 'charts') await page.waitForSelector('#chart-cost[data-drawn="1"] svg');
    assert.equal(await page.locator('#app .error').count(), 0, name + ': ' + await page.locator('#app').innerText());
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'view-' + name + '.png'), fullPage: name !== 'cells' });
  }
  // A reload of a shared address shows the same page.
  await page.reload();
  await page.waitForSelector('body[data-ready="charts"]');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('every number of the results table links to the cells behind it', async () => {
  const page = await openPage();
  await visit(page, '#/results?sweep=tiny', 'results');
  const first = page.locator('table[data-table="success"] td.num a').first();
  await first.click();
  await page.waitForSelector('body[data-ready="cells"] #cells');
  const hash = new URLSearchParams((await page.evaluate(() => location.hash)).split('?')[1]);
  assert.equal(hash.get('sweep'), 'tiny');
  assert.ok(hash.get('task') && hash.get('method') && hash.get('model'));
  const methods = await page.locator('#cells tbody tr td:nth-child(6)').allInnerTexts();
  assert.ok(methods.length > 0);
  assert.ok(methods.every((m) => m === hash.get('method')), methods.join(','));
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('filters change the list', async () => {
  const page = await openPage();
  await visit(page, '#/cells?sweep=tiny', 'cells');
  await page.waitForFunction(() => /matching cells/.test(document.querySelector('[data-field="matches"]').textContent));
  const all = await page.locator('[data-field="matches"]').innerText();
  assert.match(all, /^48 matching cells/);
  await page.selectOption('select[name="status"]', 'failed');
  await page.waitForFunction(() => location.hash.includes('status=failed') && document.body.dataset.ready === 'cells' &&
    document.querySelector('[data-field="matches"]') && document.querySelector('[data-field="matches"]').textContent.startsWith('1 '));
  const states = await page.locator('#cells tbody tr td:nth-child(8)').allInnerTexts();
  assert.deepEqual(states, ['failed']);
  await page.selectOption('select[name="status"]', 'correct');
  // Wait for the new list itself: `ready` is still 'cells' from the failed list just shown.
  await page.waitForFunction(() => {
    const verdicts = [...document.querySelectorAll('#cells tbody tr td:nth-child(9)')];
    return location.hash.includes('status=correct') && verdicts.length > 0 &&
      verdicts.every((td) => td.textContent === 'correct');
  });
  const verdicts = await page.locator('#cells tbody tr td:nth-child(9)').allInnerTexts();
  assert.ok(verdicts.length > 0 && verdicts.every((v) => v === 'correct'), verdicts.join(','));
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a transcript shows the code and execution output of a known cell', async () => {
  const [[code, stdout, status]] = sql(db, 'SELECT code, stdout_text, status FROM executions WHERE job_id = ? ORDER BY lease_token, idx LIMIT 1', execCell);
  const page = await openPage();
  await visit(page, '#/cell/' + execCell, 'cell');
  const shownCode = await page.locator('[data-section="execution"] pre.code').first().innerText();
  assert.equal(shownCode.trim(), code.trim());
  assert.equal((await page.locator('[data-field="stdout"]').first().innerText()).trim(), stdout.trim());
  assert.equal(await page.locator('[data-field="exec-status"]').first().innerText(), status);
  assert.ok(await page.locator('[data-section="verdict"]').count() === 1);
  assert.ok(await page.locator('pre.code span.kw, pre.code span.str, pre.code span.numl').count() > 0, 'code is highlighted');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('hostile text in a reply, the code and the output is inert', async () => {
  const page = await openPage();
  for (const route of ['#/cell/' + hostileId, '#/cells?sweep=tiny', '#/errors?sweep=tiny', '#/cells?sweep=tiny&status=failed']) {
    const name = route.startsWith('#/cell/') ? 'cell' : route.slice(2).split('?')[0];
    await visit(page, route, name);
    assert.equal(await page.evaluate(() => window.__pwned), undefined, route);
    assert.equal(await page.locator('#app img, #app script, #app iframe').count(), 0, route);
    const hrefs = await page.locator('#app a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.ok(hrefs.every((h) => h.startsWith('#/')), hrefs.filter((h) => !h.startsWith('#/')).join(' '));
    const text = await page.locator('#app').innerText();
    assert.ok(text.includes('<script>window.__pwned = 1</script>'), route + ': the text is shown as text');
    assert.ok(!text.includes('\u001b'), route + ': no raw terminal escape');
  }
  await visit(page, '#/cell/' + hostileId, 'cell');
  assert.ok((await page.locator('#app').innerText()).includes('\\x1b[31mRED'));
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(page.problems, []);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'view-hostile.png'), fullPage: false });
  await page.close();
});

test('the sweep page updates while a sweep runs in the background', async () => {
  const slow = TINY.replace('name = "tiny"', 'name = "slow"').replace('samples = 3', 'samples = 6')
    .replaceAll('p_code = 0.6\n', 'p_code = 0.6\nlatency_ms = 400\n');
  const { toml, file } = runSweep('slow', slow);
  const run = spawn(CODESWEEP, ['run', toml, '--db', file, '--quiet', '--workers', '1', '--slots', '2'], { stdio: 'ignore' });
  children.push(run);
  const deadline = Date.now() + 60_000;
  while (!(existsSync(file) && sql(file, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs'")[0][0] === 1 &&
           sql(file, 'SELECT count(*) FROM jobs')[0][0] > 0)) {
    assert.ok(Date.now() < deadline, 'the sweep never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = await startView(file);
  const page = await openPage();
  await page.goto(url + '#/sweeps');
  const done = page.locator('tr[data-sweep="slow"] [data-field="done"]');
  await done.waitFor();
  const first = await done.innerText();
  assert.match(first, / \/ 96$/);
  await page.waitForFunction((f) => {
    const e = document.querySelector('tr[data-sweep="slow"] [data-field="done"]');
    return e && e.textContent !== f;
  }, first, { timeout: 60_000 });
  assert.notEqual(await done.innerText(), first);
  assert.deepEqual(page.problems, []);
  run.kill('SIGTERM');
  await page.close();
});
