// annuaire: the operators' page. Plain JavaScript, no build step. It calls the binary's own API with an `admin`
// token: GET /v1/generations, /v1/runs, /v1/quality/latest, /v1/usage, and POST /v1/generations/{gen}/approve.
'use strict';
const $ = (id) => document.getElementById(id);
const KEY = 'annuaire-admin-token';
const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = { promoted: '#18753c', held: '#b34000', failed: '#ce0500', unchanged: '#666', running: '#000091' };

function setStatus(text, error) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!error);
}

async function api(path, options) {
  const token = $('token').value.trim();
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  if (options && options.body) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, Object.assign({ headers }, options || {}));
  const body = await r.json().catch(() => ({}));
  if (r.status === 401 || r.status === 403) throw new Error('un jeton avec le scope « admin » est nécessaire');
  if (!r.ok) throw Object.assign(new Error(body.message || ('HTTP ' + r.status)), { status: r.status });
  return body;
}

function row(tbody, cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === null || c === undefined ? '–' : String(c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderGenerations(g) {
  $('served').textContent = g.served === null ? 'aucune' : String(g.served);
  const served = g.generations.find((x) => x.generation === g.served);
  $('promoted').textContent = served && served.promoted_at ? served.promoted_at : '–';
  $('held-number').textContent = g.held ? String(g.held.generation) : 'aucune';
  $('held').hidden = !g.held;
  if (!g.held) return;
  const h = g.held;
  $('held-generation').textContent = String(h.generation);
  $('held-reason').textContent = h.reason || '';
  $('held-counts').textContent = `${h.persons} personnes : ${h.created} créées, ${h.updated} modifiées, ${h.deleted} supprimées`;
  const tbody = $('held-segments');
  tbody.replaceChildren();
  const segments = Object.entries((h.diff && h.diff.segments) || {})
    .filter(([k]) => k.startsWith('department:') || k.startsWith('profession:'))
    .map(([k, s]) => ({ k, s, lost: Math.max(0, s.reference - s.now) }))
    .filter((x) => x.lost > 0 || x.s.updated > 0)
    .sort((a, b) => (b.lost + b.s.updated) - (a.lost + a.s.updated) || a.k.localeCompare(b.k))
    .slice(0, 15);
  for (const x of segments) row(tbody, [x.k.replace(':', ' '), x.s.reference, x.s.now, x.lost, x.s.updated]);
}

function renderRuns(r) {
  const tbody = $('runs');
  tbody.replaceChildren();
  for (const run of r.runs) {
    const tr = row(tbody, [run.run, run.generation, run.status, run.started_at, run.persons, run.created, run.updated, run.deleted, run.reason || '']);
    tr.dataset.status = run.status;
  }
  // The timeline: one mark per run, oldest on the left, coloured by status.
  const t = $('timeline');
  t.replaceChildren();
  const runs = r.runs.slice().reverse();
  const width = t.clientWidth || 800;
  const step = runs.length > 1 ? (width - 40) / (runs.length - 1) : 0;
  t.appendChild(svg('line', { x1: 20, y1: 30, x2: width - 20, y2: 30, stroke: '#999' }));
  runs.forEach((run, i) => {
    const x = 20 + i * step;
    const mark = svg('circle', { cx: x, cy: 30, r: 8, fill: COLOURS[run.status] || '#333', class: 'run', 'data-status': run.status });
    mark.appendChild(svg('title', {}, `run ${run.run} · ${run.status} · ${run.started_at}${run.reason ? ' · ' + run.reason : ''}`));
    t.appendChild(mark);
    t.appendChild(svg('text', { x, y: 60, 'text-anchor': 'middle', 'font-size': 11 }, `${run.run} ${run.status}`));
  });
}

function renderQuality(q) {
  $('quality-generation').textContent = `(génération ${q.generation}, comparée à ${q.compared_with === null ? 'rien' : q.compared_with})`;
  const warnings = $('quality-warnings');
  warnings.replaceChildren();
  for (const w of q.quality.warnings || []) {
    const li = document.createElement('li');
    li.textContent = w;
    warnings.appendChild(li);
  }
  if (!warnings.children.length) {
    const li = document.createElement('li');
    li.textContent = 'aucun avertissement';
    warnings.appendChild(li);
  }
  const text = $('quality-text');
  text.replaceChildren();
  for (const [kind, issues] of Object.entries(q.quality.text || {})) {
    const p = document.createElement('p');
    const first = (issues.first || [])[0];
    p.textContent = `${kind} : ${issues.count} champs` + (first ? ` (premier : ${first.file} ligne ${first.line}, ${first.column} : « ${first.text} »)` : '');
    text.appendChild(p);
  }
  const shared = document.createElement('p');
  shared.textContent = `SIRET partagés par plusieurs structures : ${q.quality.shared_siret.count} · FINESS : ${q.quality.shared_finess.count} · personnes sans activité : ${q.quality.persons_without_activity}`;
  text.appendChild(shared);
  // What moved most: a bar per segment, its length the size of the change, its count at the end.
  const box = $('quality-moved');
  box.replaceChildren();
  const moved = q.quality.moved || [];
  const max = Math.max(1, ...moved.map((m) => Math.abs(m.change)));
  for (const m of moved) {
    const bar = document.createElement('div');
    bar.className = 'bar';
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = m.segment.replace(':', ' ');
    const fill = document.createElement('span');
    fill.className = 'fill' + (m.change < 0 ? ' down' : '');
    fill.style.width = (100 * Math.abs(m.change) / max) + '%';
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = (m.change > 0 ? '+' : '') + m.change;
    bar.append(name, fill, count);
    box.appendChild(bar);
  }
}

function renderUsage(u) {
  const tbody = $('usage');
  tbody.replaceChildren();
  for (const c of u.clients) row(tbody, [c.client, c.calls, c.distinct_professionals, c.eligible, c.refused]);
  // Calls by day, one bar per client and day.
  const chart = $('usage-chart');
  chart.replaceChildren();
  const days = [...new Set(u.days.map((d) => d.day))].sort();
  const clients = [...new Set(u.days.map((d) => d.client))].sort();
  const max = Math.max(1, ...u.days.map((d) => d.calls));
  const width = chart.clientWidth || 800;
  const group = days.length ? (width - 40) / days.length : 0;
  const bar = clients.length ? Math.max(2, group / (clients.length + 1)) : 0;
  days.forEach((day, i) => {
    clients.forEach((client, j) => {
      const d = u.days.find((x) => x.day === day && x.client === client);
      if (!d) return;
      const h = 130 * d.calls / max;
      const rect = svg('rect', { x: 20 + i * group + j * bar, y: 140 - h, width: bar - 1, height: h, fill: `hsl(${(j * 97) % 360}, 60%, 45%)`, class: 'usage-bar' });
      rect.appendChild(svg('title', {}, `${day} · ${client} · ${d.calls} appels`));
      chart.appendChild(rect);
    });
    chart.appendChild(svg('text', { x: 20 + i * group, y: 160, 'font-size': 10 }, day.slice(5)));
  });
}

async function refresh() {
  document.body.dataset.state = 'loading';
  if (!$('token').value.trim()) {
    setStatus('collez un jeton avec le scope « admin »');
    document.body.dataset.state = 'idle';
    return;
  }
  try {
    const [g, r, u] = await Promise.all([api('/v1/generations'), api('/v1/runs?limit=60'), api('/v1/usage')]);
    renderGenerations(g);
    renderRuns(r);
    renderUsage(u);
    try {
      renderQuality(await api('/v1/quality/latest'));
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    setStatus(`génération servie : ${g.served === null ? 'aucune' : g.served}`);
    document.body.dataset.state = 'ready';
  } catch (e) {
    setStatus(e.message, true);
    document.body.dataset.state = 'error';
  }
}

async function approve() {
  const g = $('held-generation').textContent;
  const exclude = $('exclude-delete').checked ? ['delete'] : [];
  $('approve').disabled = true;
  try {
    const r = await api(`/v1/generations/${g}/approve`, { method: 'POST', body: JSON.stringify({ exclude }) });
    setStatus(`génération ${r.generation} approuvée et servie`);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    $('approve').disabled = false;
    await refresh();
  }
}

$('token').value = sessionStorage.getItem(KEY) || '';
let typing = null;
$('token').addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    sessionStorage.setItem(KEY, $('token').value.trim());
    refresh();
  }, 300);
});
$('approve').addEventListener('click', approve);
refresh();
