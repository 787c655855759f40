// codesweep view: the page application. Hash routes (#/page?params) make every page a link that
// can be shared and reloaded. Everything shown comes from /api/* as JSON and is put into the page
// as text nodes only (never innerHTML): model output is hostile text.
'use strict';

// ---- safe DOM building ----
// Control characters (terminal escapes among them) are shown as \xNN, never passed through.
function visible(s) {
  return String(s).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
// Only our own routes and assets are ever linked.
function safeHref(h) { return /^(#\/|\/[a-zA-Z])/.test(h) ? h : '#'; }
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'href') e.setAttribute('href', safeHref(v));
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(visible(kid)));
  }
  return e;
}
function link(route, params, ...kids) { return el('a', { href: routeUrl(route, params) }, ...kids); }
function routeUrl(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return '#/' + route + (s ? '?' + s : '');
}
function table(head, rows, attrs) {
  return el('table', attrs || {},
    el('thead', {}, el('tr', {}, head.map((h) => el('th', { class: /^[#0-9]|^n$|rate|%|cost|tokens|cells|rank|score/.test(h) ? 'num' : null }, h)))),
    el('tbody', {}, rows));
}
function num(x, digits) {
  if (x === null || x === undefined) return '–';
  return Number(x).toLocaleString('en-US', { maximumFractionDigits: digits ?? 0, minimumFractionDigits: digits ?? 0 });
}
function pct(x) { return x === null || x === undefined ? '–' : (100 * x).toFixed(1) + '%'; }
function usd(x) { return x === null || x === undefined ? '–' : '$' + Number(x).toFixed(4); }
function td(x, cls) { return el('td', { class: cls }, x); }
function numTd(x) { return el('td', { class: 'num' }, x); }
function duration(s) {
  if (!isFinite(s) || s < 0) return '–';
  if (s < 90) return Math.round(s) + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}
// The 95% Wilson score interval of k successes in n.
function wilson(k, n) {
  if (!n) return [0, 0];
  const z = 1.96, p = k / n, d = 1 + z * z / n;
  const c = (p + z * z / (2 * n)) / d, h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

// ---- data ----
async function api(name, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') q.set(k, v);
  const r = await fetch('/api/' + name + (q.toString() ? '?' + q : ''), { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({ error: 'the server sent no JSON (HTTP ' + r.status + ')' }));
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}
let filtersCache = {};
const countCache = new Map();  // cell-list filters -> their count of matches
async function filters(sweep) {
  if (!filtersCache[sweep || '']) filtersCache[sweep || ''] = await api('filters', { sweep });
  return filtersCache[sweep || ''];
}

// ---- routing ----
let timer = null;  // the live page's refresh timer
let generation = 0;  // a page drawn for an older route is thrown away
function parseRoute() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, query] = h.split('?');
  const parts = path.split('/');
  return { page: parts[0] || 'sweeps', arg: parts[1], params: Object.fromEntries(new URLSearchParams(query || '')) };
}
function go(route, params) { location.hash = routeUrl(route, params); }
async function render() {
  clearInterval(timer);
  timer = null;
  const mine = ++generation;
  const r = parseRoute();
  const app = document.getElementById('app');
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === r.page || (r.page === 'cell' && a.dataset.page === 'cells'));
  }
  const page = PAGES[r.page];
  const out = el('div', { 'data-page': r.page });
  try {
    if (!page) throw new Error('no page ' + r.page);
    await page(out, r, () => mine === generation);
  } catch (e) {
    out.append(el('p', { class: 'error' }, e.message));
  }
  if (mine !== generation) return;
  app.replaceChildren(out);
  document.body.dataset.ready = r.page;
}
window.addEventListener('hashchange', render);
window.addEventListener('DOMContentLoaded', render);

// A select of `values` named `name` ('' = any).
function select(name, values, current, labelText, opts) {
  const s = el('select', { name, 'data-filter': name },
    el('option', { value: '' }, (opts && opts.none) || 'any'),
    values.map((v) => {
      const [val, label] = Array.isArray(v) ? v : [String(v), String(v)];
      const o = el('option', { value: val }, label);
      if (String(current ?? '') === val) o.selected = true;
      return o;
    }));
  return el('label', {}, labelText || name, s);
}
function input(name, current, labelText) {
  return el('label', {}, labelText || name, el('input', { name, value: current || '', 'data-filter': name, size: 14 }));
}
// A filter form: any change rewrites the route with the form's values.
function filterForm(route, fields, keep) {
  const f = el('form', { class: 'filters' }, fields);
  const apply = (ev) => {
    ev.preventDefault();
    const p = Object.assign({}, keep || {});
    for (const x of f.querySelectorAll('[data-filter]')) if (x.value) p[x.name] = x.value;
    go(route, p);
  };
  f.addEventListener('change', apply);
  f.addEventListener('submit', apply);
  f.append(el('button', { type: 'submit' }, 'Apply'));
  return f;
}
async function sweepPicker(route, params) {
  const f = await filters('');
  return filterForm(route, [select('sweep', f.sweeps, params.sweep, 'sweep', { none: 'all sweeps' })]);
}

// ---- pages ----
const PAGES = {};

PAGES.sweeps = async (out, r, current) => {
  out.append(el('h1', {}, 'Sweeps'), el('div', { id: 'live' }));
  let last = null;
  const draw = async () => {
    const d = await api('sweeps');
    if (!current()) return;
    const live = out.querySelector('#live') || document.getElementById('live');
    const rows = d.sweeps.map((s) => {
      const finished = s.done + s.failed + s.dead;
      const prev = last && last.sweeps.find((x) => x.id === s.id);
      let rate = (s.last_minute || 0) / 60;
      if (prev && d.now_ms > last.now_ms) {
        const dr = (finished - (prev.done + prev.failed + prev.dead)) / ((d.now_ms - last.now_ms) / 1000);
        if (dr > 0) rate = dr;
      }
      const left = s.pending + s.leased + (s.parked || 0);  // parked: waiting in a provider batch
      return el('tr', { 'data-sweep': s.name },
        td(link('results', { sweep: s.name }, s.name)),
        td(el('span', { class: 'bar', title: finished + ' of ' + s.total },
          el('span', { style: 'width:' + (s.total ? 100 * finished / s.total : 0).toFixed(1) + '%' }))),
        numTd(el('span', { 'data-field': 'done' }, num(finished) + ' / ' + num(s.total))),
        numTd(link('cells', { sweep: s.name, status: 'done' }, num(s.done))),
        numTd(link('cells', { sweep: s.name, status: 'failed' }, num(s.failed))),
        numTd(link('cells', { sweep: s.name, status: 'dead' }, num(s.dead))),
        numTd(num(s.pending)), numTd(num(s.leased)),
        numTd(rate > 0 ? num(rate, 1) : '–'),
        numTd(left === 0 ? 'finished' : rate > 0 ? duration(left / rate) : '–'),
        numTd(num(s.rate_limited || 0)), numTd(usd(s.cost_usd || 0)));
    });
    const parts = [table(['sweep', 'progress', 'finished', 'done', 'failed', 'dead', 'pending', 'running', 'cells/s', 'ETA', '429s', 'cost'], rows, { id: 'sweeps' })];
    parts.push(el('h2', {}, 'Workers'));
    parts.push(d.workers.length ? table(['worker', 'host', 'pid', 'slots', 'state', 'last seen'], d.workers.map((w) =>
      el('tr', {}, td(w.worker_id), td(w.host), numTd(w.pid), numTd(w.slots), td(w.state, w.state === 'up' ? 'ok' : 'bad'),
        td(duration((d.now_ms - w.last_seen_ms) / 1000) + ' ago')))) : el('p', { class: 'muted' }, 'No worker has registered (a local run has no network workers).'));
    parts.push(el('h2', {}, 'Rate-limit buckets'));
    parts.push(d.rate_limits.length ? table(['provider', 'model', 'key', 'rpm', 'tpm', 'in flight', 'cap', 'queued', 'granted', '429s', 'cooldown ms', 'updated'], d.rate_limits.map((b) =>
      el('tr', {}, td(b.provider), td(b.model), td(b.key_alias), numTd(num(b.rpm)), numTd(num(b.tpm)), numTd(b.in_flight), numTd(b.cap),
        numTd(b.queued), numTd(num(b.granted)), numTd(num(b.rate_limited)), numTd(b.cooldown_ms), td(duration((d.now_ms - b.updated_ms) / 1000) + ' ago')))) : el('p', { class: 'muted' }, 'No rate-limit bucket recorded.'));
    parts.push(el('p', { class: 'muted' }, 'Updated every 2 s. ', new Date(d.now_ms).toLocaleTimeString()));
    live.replaceChildren(...parts);
    last = d;
  };
  await draw();
  timer = setInterval(() => { draw().catch((e) => { document.getElementById('status').textContent = e.message; }); }, 2000);
};

// Groups rows by a key function into a Map (insertion order).
function groupBy(rows, key) {
  const m = new Map();
  for (const r of rows) { const k = key(r); if (!m.has(k)) m.set(k, []); m.get(k).push(r); }
  return m;
}
function uniq(xs) { return [...new Set(xs)]; }

PAGES.results = async (out, r) => {
  const p = r.params;
  out.append(el('h1', {}, 'Results'), await sweepPicker('results', p));
  const d = await api('results', { sweep: p.sweep });
  if (!d.grain.length) { out.append(el('p', { class: 'muted' }, 'No finished cells yet.')); return; }
  for (const [key, rows] of groupBy(d.grain, (g) => g.sweep + '\u0000' + g.model + '\u0000' + g.turns)) {
    const [sweep, model, turns] = key.split('\u0000');
    const methods = uniq(rows.map((g) => g.method)), tasks = uniq(rows.map((g) => g.task));
    out.append(el('h2', {}, sweep + ' · ' + model + ' · ' + turns + (turns === '1' ? ' turn' : ' turns')));
    const body = tasks.map((t) => el('tr', {}, td(t), methods.map((m) => {
      const cells = rows.filter((g) => g.task === t && g.method === m);
      if (!cells.length) return td('NA', 'muted');
      const n = cells.reduce((a, g) => a + g.n, 0), k = cells.reduce((a, g) => a + g.correct, 0);
      const [lo, hi] = wilson(k, n);
      return numTd(link('cells', { sweep, model, task: t, method: m, turns }, pct(k / n)),
        el('div', { class: 'muted', title: '95% Wilson interval' }, 'n=' + n + ' [' + (100 * lo).toFixed(0) + '–' + (100 * hi).toFixed(0) + ']'));
    })));
    out.append(table(['task', ...methods], body, { 'data-table': 'success' }));
    const scores = d.method_score.filter((s) => s.sweep === sweep && s.model === model && String(s.turns) === turns);
    if (scores.length) {
      out.append(table(['method', 'avg normalized score %', 'rank', 'tasks'], scores.map((s) => el('tr', {},
        td(link('cells', { sweep, model, method: s.method, turns }, s.method)), numTd(num(s.avg_norm_pct, 1)), numTd(s.rank), numTd(s.tasks)))));
    }
  }
  if (d.method_summary.length) {
    out.append(el('h2', {}, 'Across models: average normalized score and rank'));
    out.append(table(['sweep', 'method', 'turns', 'models run', 'avg score %', 'avg rank'], d.method_summary.map((s) => el('tr', {},
      td(s.sweep), td(link('cells', { sweep: s.sweep, method: s.method, turns: s.turns }, s.method)), numTd(s.turns), numTd(s.models_run),
      numTd(num(s.avg_score_pct, 1)), numTd(num(s.avg_rank, 2))))));
  }
};

PAGES.cells = async (out, r) => {
  const p = r.params;
  const f = await filters(p.sweep);
  const fields = [
    select('sweep', f.sweeps, p.sweep, 'sweep', { none: 'all' }),
    select('task', f.tasks, p.task), select('complexity', f.complexities, p.complexity),
    select('model', f.models, p.model), select('method', f.methods, p.method), select('turns', f.turns, p.turns),
    select('status', ['correct', 'incorrect', 'done', 'failed', 'dead', 'pending', 'leased', 'parked'], p.status),
    select('code_used', [['1', 'yes'], ['0', 'no']], p.code_used, 'code used'),
    input('passed_by', p.passed_by, 'passed by'),
    f.answer_source ? input('answer_source', p.answer_source, 'answer source') : null,
    input('error', p.error, 'error text'), input('q', p.q, 'search replies'),
  ];
  out.append(el('h1', {}, 'Cells'), filterForm('cells', fields));
  const d = await api('cells', Object.assign({}, p, { count: '0' }));
  const base = Object.assign({}, p);
  delete base.after; delete base.before;
  // The count of matches comes after the rows, and a page change reuses it.
  const matches = el('p', { 'data-field': 'matches', class: 'muted' }, 'counting…');
  out.append(matches);
  const key = JSON.stringify(base);
  const showCount = (c) => { matches.className = ''; matches.textContent = (c.matches_capped ? 'more than ' : '') + num(c.matches) + ' matching cells'; };
  if (countCache.has(key)) showCount(countCache.get(key));
  else api('cells', Object.assign({}, base, { rows: '0' })).then((c) => { countCache.set(key, c); showCount(c); }, (e) => { matches.textContent = e.message; });
  const pager = () => el('div', { class: 'pager' },
    d.has_prev && d.cells.length ? link('cells', Object.assign({}, base, { before: d.cells[0].id }), '← previous') : el('span', { class: 'muted' }, '← previous'),
    d.has_next && d.cells.length ? link('cells', Object.assign({}, base, { after: d.cells[d.cells.length - 1].id }), 'next →') : el('span', { class: 'muted' }, 'next →'));
  const head = ['#', 'task', 'complexity', 'sample', 'model', 'method', 'turns', 'state', 'verdict', 'score', 'code', 'passed by'];
  if (d.answer_source) head.push('answer source');
  head.push('tokens', 'cost', 'answer / error');
  const rows = d.cells.map((c) => el('tr', { 'data-cell': c.id },
    td(link('cell/' + c.id, {}, String(c.id))), td(c.task), td(c.complexity), numTd(c.sample), td(c.model), td(c.method), numTd(c.turns),
    td(c.state, c.state === 'done' ? null : 'bad'),
    td(c.correct === null ? '–' : c.correct ? 'correct' : 'incorrect', c.correct ? 'ok' : 'bad'),
    numTd(c.score === null ? '–' : num(c.score, 2)), td(c.code_used === null ? '–' : c.code_used ? 'yes' : 'no'), td(c.passed_by ?? '–'),
    d.answer_source ? td(c.answer_source ?? '–') : null,
    numTd(c.tokens === null ? '–' : num(c.tokens)), numTd(usd(c.cost_usd)),
    td(c.error ? el('span', { class: 'bad' }, c.error) : (c.answer ?? ''))));
  out.append(pager(), table(head, rows, { id: 'cells' }), pager());
};

// ---- transcript ----
const PY_KEYWORDS = new Set(('False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield print range len').split(' '));
// Python highlighting by a small tokenizer: every token becomes a text node inside a span.
function highlight(code) {
  const pre = el('pre', { class: 'code' });
  const re = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|\b(\d+(?:\.\d+)?)\b|([A-Za-z_]\w*)/g;
  let at = 0, m;
  while ((m = re.exec(code)) !== null) {
    if (m.index > at) pre.append(document.createTextNode(visible(code.slice(at, m.index))));
    if (m[1]) pre.append(el('span', { class: 'com' }, m[1]));
    else if (m[2]) pre.append(el('span', { class: 'str' }, m[2]));
    else if (m[3]) pre.append(el('span', { class: 'numl' }, m[3]));
    else pre.append(PY_KEYWORDS.has(m[4]) ? el('span', { class: 'kw' }, m[4]) : document.createTextNode(m[4]));
    at = re.lastIndex;
  }
  pre.append(document.createTextNode(visible(code.slice(at))));
  return pre;
}
function parseJson(s) { try { return JSON.parse(s); } catch (e) { return null; } }
function contentText(c) {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((b) => b.text ?? (b.type === 'tool_use' ? 'tool call ' + b.name + ' ' + JSON.stringify(b.input) : b.type === 'tool_result' ? contentText(b.content) : JSON.stringify(b))).join('\n');
  return c == null ? '' : JSON.stringify(c);
}
// The messages of a request (OpenAI or Anthropic shape), the system prompt first.
function requestMessages(req) {
  const j = parseJson(req);
  if (!j) return [{ role: 'request', text: req }];
  const out = [];
  if (j.system) out.push({ role: 'system', text: contentText(j.system) });
  for (const m of j.messages || []) {
    let text = contentText(m.content);
    if (m.tool_calls) text += m.tool_calls.map((t) => '\ntool call ' + (t.function ? t.function.name + ' ' + t.function.arguments : t.name !== undefined ? t.name + ' ' + t.arguments : JSON.stringify(t))).join('');
    out.push({ role: m.role || '?', text });
  }
  return out;
}
// The reply text and tool calls of a response.
function responseParts(resp) {
  const j = parseJson(resp);
  if (!j) return { text: resp, tools: [] };
  const call = (t) => t.function ? t.function.name + '(' + t.function.arguments + ')' : t.name !== undefined ? t.name + '(' + t.arguments + ')' : JSON.stringify(t);
  if (typeof j.content === 'string') {  // codesweep's own record of a reply (ResponseToJson)
    return { text: j.content, tools: (j.tool_calls || []).map(call) };
  }
  if (j.choices && j.choices[0]) {
    const m = j.choices[0].message || {};
    return { text: contentText(m.content), tools: (m.tool_calls || []).map(call) };
  }
  if (Array.isArray(j.content)) {
    return { text: j.content.filter((b) => b.type === 'text').map((b) => b.text).join('\n'),
      tools: j.content.filter((b) => b.type === 'tool_use').map((b) => b.name + '(' + JSON.stringify(b.input) + ')') };
  }
  return { text: JSON.stringify(j, null, 2), tools: [] };
}
function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter((x) => x[1] !== undefined && x[1] !== null && x[1] !== '').map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

PAGES.cell = async (out, r) => {
  const c = await api('cell', { id: r.arg });
  out.append(el('h1', {}, 'Cell ' + c.id + ': ' + c.task + ' ' + c.complexity + ' #' + c.sample));
  out.append(el('div', { class: 'box' }, facts([
    ['sweep', c.sweep], ['model', c.model], ['method', c.method], ['turns', String(c.turns)], ['state', c.state],
    ['cell key', c.cell_key], ['attempts', String(c.attempts_made)], ['last error', c.last_error],
    ['compare', link('compare', { sweep: c.sweep, dim: 'method', a: c.method, model: c.model, task: c.task }, 'this method against another')]])));
  const v = c.verdict;
  if (v) {
    out.append(el('div', { class: 'box', 'data-section': 'verdict' }, el('h2', {}, 'Verdict: ', el('span', { class: v.correct ? 'ok' : 'bad' }, v.correct ? 'correct' : 'incorrect')),
      facts([['final answer', el('pre', {}, v.final_answer)], ['checker', v.reason], ['passed by', v.passed_by], ['answer source', v.answer_source],
        ['score', num(v.score, 3)], ['code used', v.code_used ? (v.code_ok ? 'yes, ran clean' : 'yes, with errors') : 'no'], ['turns used', String(v.turns_used)],
        ['tokens', num(v.tokens_in) + ' in, ' + num(v.tokens_out) + ' out'], ['cost', usd(v.cost_usd)], ['wall', num(v.wall_ms) + ' ms']])));
  }
  out.append(el('h2', {}, 'Attempts'), c.attempts.length ? table(['lease', 'attempt', 'worker', 'outcome', 'error', 'took'], c.attempts.map((a) => el('tr', {},
    numTd(a.lease), numTd(a.attempt), td(a.worker), td(a.outcome ?? 'running', a.outcome === 'done' ? 'ok' : 'bad'), td(a.error),
    numTd(a.ended_ms ? num(a.ended_ms - a.started_ms) + ' ms' : '–'))), { id: 'attempts' }) : el('p', { class: 'muted' }, 'Not leased yet.'));
  for (const [lease, calls] of groupBy([...c.calls.map((x) => ({ kind: 'call', ...x })), ...c.executions.map((x) => ({ kind: 'exec', ...x }))]
    .sort((a, b) => a.lease - b.lease || a.turn - b.turn || (a.kind === b.kind ? a.index - b.index : a.kind === 'call' ? -1 : 1)), (x) => x.lease)) {
    out.append(el('h2', {}, 'Trajectory of lease ' + lease));
    let seen = 0;
    for (const x of calls) {
      if (x.kind === 'call') {
        const msgs = requestMessages(x.request_json);
        const fresh = msgs.slice(seen);
        seen = msgs.length + 1;  // the reply comes back as the next request's assistant message
        const resp = responseParts(x.response_json);
        out.append(el('div', { class: 'box', 'data-section': 'call' },
          el('div', { class: 'muted' }, 'turn ' + x.turn + ' · call ' + x.index + ' · HTTP ' + x.http_status + ' · ' + num(x.latency_ms) + ' ms · ' +
            num(x.tokens_in) + ' in / ' + num(x.tokens_out) + ' out · ' + usd(x.cost_usd) + (x.cached ? ' · from cache' : '') + (x.rate_limited ? ' · 429 ×' + x.rate_limited : '')),
          fresh.map((m) => [el('div', { class: 'msg-role' }, m.role), el('pre', {}, m.text)]),
          el('div', { class: 'msg-role' }, 'reply'), el('pre', { 'data-field': 'reply' }, resp.text),
          resp.tools.map((t) => el('pre', { 'data-field': 'tool-call' }, 'tool call: ' + t)),
          x.error ? el('p', { class: 'error' }, x.error) : null));
      } else {
        out.append(el('div', { class: 'box', 'data-section': 'execution' },
          el('div', { class: 'muted' }, 'turn ' + x.turn + ' · execution ' + x.index + ' · ', el('span', { class: x.status === 'ok' ? 'ok' : 'bad', 'data-field': 'exec-status' }, x.status),
            ' · exit ' + x.exit_code + (x.signal ? ' · signal ' + x.signal : '') + ' · ' + num(x.wall_ms) + ' ms · ' + num(x.peak_rss_kb) + ' KB · ' + x.tier),
          highlight(x.code),
          el('div', { class: 'msg-role' }, 'stdout' + (x.stdout_truncated ? ' (truncated)' : '')), el('pre', { 'data-field': 'stdout' }, x.stdout),
          x.stderr ? [el('div', { class: 'msg-role' }, 'stderr' + (x.stderr_truncated ? ' (truncated)' : '')), el('pre', { 'data-field': 'stderr' }, x.stderr)] : null));
      }
    }
  }
};

PAGES.compare = async (out, r) => {
  const p = r.params;
  const f = await filters(p.sweep);
  const dim = p.dim || 'method';
  const choices = dim === 'method' ? f.methods : f.models;
  const fields = [select('sweep', f.sweeps, p.sweep), select('dim', [['method', 'two methods'], ['model', 'two models']], dim, 'compare'),
    select('a', choices, p.a, 'A'), select('b', choices, p.b, 'B'),
    dim === 'method' ? select('model', f.models, p.model, 'on model') : select('method', f.methods, p.method, 'with method'),
    select('task', f.tasks, p.task), select('turns', f.turns, p.turns)];
  out.append(el('h1', {}, 'Compare'), filterForm('compare', fields));
  if (!p.sweep || !p.a || !p.b) { out.append(el('p', { class: 'muted' }, 'Choose a sweep and two ' + dim + 's: the samples both ran are listed side by side, the ones they disagree on first.')); return; }
  const d = await api('compare', Object.assign({ dim }, p));
  const k = d.counts;
  out.append(el('p', { 'data-field': 'counts' }, num(k.pairs) + ' shared samples with both results: both correct ' + num(k.both_correct) + ', only A ' + num(k.only_a) + ', only B ' + num(k.only_b) + ', neither ' + num(k.neither) +
    '; only A has a result in ' + num(k.only_a_finished) + ', only B in ' + num(k.only_b_finished) + '.'));
  const mark = (st, c) => c === null ? (st ?? 'no cell') : c ? 'correct' : 'incorrect';
  const cellLink = (id, st, c) => id === null ? mark(st, c) : link('cell/' + id, {}, mark(st, c));
  out.append(table(['task', 'complexity', 'sample', 'turns', dim === 'method' ? 'model' : 'method', 'A: ' + p.a, 'A answer', 'B: ' + p.b, 'B answer'], d.pairs.map((x) => {
    const agree = (x.a_correct ?? -1) === (x.b_correct ?? -1);
    return el('tr', { class: agree ? null : 'disagree' }, td(x.task), td(x.complexity), numTd(x.sample), numTd(x.turns), td(dim === 'method' ? x.model : x.method),
      td(cellLink(x.a_id, x.a_state, x.a_correct), x.a_correct ? 'ok' : 'bad'), td(x.a_answer ?? ''),
      td(cellLink(x.b_id, x.b_state, x.b_correct), x.b_correct ? 'ok' : 'bad'), td(x.b_answer ?? ''));
  }), { id: 'pairs' }));
  // Pages of d.page_size pairs: the ones where A and B differ first (d.counts.disagree of d.rows).
  const from = d.offset, to = d.offset + d.pairs.length;
  out.append(el('div', { class: 'pager', 'data-field': 'pager' },
    'pairs ' + num(d.rows ? from + 1 : 0) + '–' + num(to) + ' of ' + num(d.rows) + ' ',
    from > 0 ? link('compare', Object.assign({}, p, { dim, offset: Math.max(0, from - d.page_size) }), '← previous') : el('span', { class: 'muted' }, '← previous'), ' ',
    to < d.rows ? link('compare', Object.assign({}, p, { dim, offset: to }), 'next →') : el('span', { class: 'muted' }, 'next →')));
};

PAGES.errors = async (out, r) => {
  const p = r.params;
  out.append(el('h1', {}, 'Errors'), await sweepPicker('errors', p));
  const d = await api('errors', { sweep: p.sweep });
  if (!d.groups.length) { out.append(el('p', { class: 'ok' }, 'No failed or dead cells.')); return; }
  out.append(table(['cells', 'state', 'sweep', 'task', 'model', 'method', 'error', 'retry them'], d.groups.map((g) => el('tr', {},
    numTd(link('cells', { sweep: g.sweep, task: g.task, model: g.model, method: g.method, status: g.state }, num(g.cells))),
    td(g.state, 'bad'), td(g.sweep), td(g.task), td(g.model), td(g.method),
    td(link('cell/' + g.first_id, {}, g.error || '(no message)')), td(el('code', { class: 'cmd' }, g.retry)))), { id: 'errors' }));
};

PAGES.charts = async (out, r) => {
  const p = r.params;
  out.append(el('h1', {}, 'Charts'), await sweepPicker('charts', p));
  const d = await api('results', { sweep: p.sweep });
  if (!d.grain.length) { out.append(el('p', { class: 'muted' }, 'No finished cells yet.')); return; }
  const curve = [];
  for (const [, rows] of groupBy(d.grain, (g) => [g.sweep, g.model, g.method, g.turns, g.complexity].join('\u0000'))) {
    const g = rows[0], n = rows.reduce((a, x) => a + x.n, 0), k = rows.reduce((a, x) => a + x.correct, 0);
    curve.push({ sweep: g.sweep, model: g.model, method: g.method, turns: g.turns, complexity: g.complexity, order: g.complexity_order, success: k / n, n });
  }
  const cost = [];
  for (const [, rows] of groupBy(d.grain, (g) => [g.sweep, g.model, g.method, g.turns].join('\u0000'))) {
    const g = rows[0], n = rows.reduce((a, x) => a + x.n, 0);
    cost.push({ sweep: g.sweep, model: g.model, method: g.method, turns: g.turns, n,
      success: rows.reduce((a, x) => a + x.correct, 0) / n, cost_per_cell: rows.reduce((a, x) => a + x.cost_usd, 0) / n });
  }
  const order = uniq(curve.sort((a, b) => a.order - b.order).map((c) => c.complexity));
  const curveSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json', data: { values: curve },
    facet: { column: { field: 'model', type: 'nominal' } },
    spec: { width: 260, height: 200, mark: { type: 'line', point: true },
      encoding: { x: { field: 'complexity', type: 'ordinal', sort: order }, y: { field: 'success', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] } },
        color: { field: 'method', type: 'nominal' }, tooltip: [{ field: 'method' }, { field: 'complexity' }, { field: 'success', format: '.1%' }, { field: 'n' }] } } };
  const costSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json', data: { values: cost }, width: 420, height: 280,
    mark: { type: 'point', filled: true, size: 90 },
    encoding: { x: { field: 'cost_per_cell', type: 'quantitative', title: 'cost per cell (USD)' }, y: { field: 'success', type: 'quantitative', axis: { format: '%' } },
      color: { field: 'method', type: 'nominal' }, shape: { field: 'model', type: 'nominal' },
      tooltip: [{ field: 'model' }, { field: 'method' }, { field: 'success', format: '.1%' }, { field: 'cost_per_cell', format: '$.5f' }, { field: 'n' }] } };
  const c1 = el('div', { class: 'chart', id: 'chart-complexity' }), c2 = el('div', { class: 'chart', id: 'chart-cost' });
  out.append(el('h2', {}, 'Success by complexity (click a point for its cells)'), c1, el('h2', {}, 'Success versus cost'), c2);
  const embed = async (node, spec) => {
    const res = await vegaEmbed(node, spec, { actions: false, renderer: 'svg' });
    res.view.addEventListener('click', (ev, item) => {
      const x = item && item.datum;
      if (x && x.method) go('cells', { sweep: x.sweep, model: x.model, method: x.method, turns: x.turns, complexity: x.complexity });
    });
  };
  // Drawn once the page is in the document (Vega measures its container).
  setTimeout(() => { embed(c1, curveSpec).then(() => embed(c2, costSpec)).then(() => { c2.dataset.drawn = '1'; }).catch((e) => c1.append(el('p', { class: 'error' }, e.message))); }, 0);
};
