// annuaire: the analysts' page. Plain JavaScript, no build step. It calls the binary's own API:
// GET /v1/search (hits, total, facets; scope `search`) and GET /v1/codes/profession (labels, public).
'use strict';
const $ = (id) => document.getElementById(id);
const FILTERS = ['profession', 'authority', 'department', 'commune', 'savoir_faire'];
const LIMIT = 20;
const professions = {};   // code -> label
let offset = 0;
let timer = null;
let seq = 0;              // answers to older requests are dropped

function setStatus(text, error) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!error);
}

function query() {
  const p = new URLSearchParams();
  const text = $('q').value.trim();
  if (text) p.set('text', text);
  for (const f of FILTERS) {
    const v = $(f).value.trim();
    if (v) p.set(f, v);
  }
  return p;
}

async function api(path) {
  const token = $('token').value.trim();
  const r = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401 || r.status === 403) throw new Error('un jeton avec le scope « search » est nécessaire');
  if (!r.ok) throw new Error(body.message || ('HTTP ' + r.status));
  return body;
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.appendChild(td);
}

function professionLabel(code) {
  return professions[code] ? `${professions[code]} (${code})` : code;
}

function renderResults(r) {
  $('total').textContent = r.total.toLocaleString('fr-FR');
  const from = r.total === 0 ? 0 : offset + 1;
  $('page').textContent = `— ${from} à ${offset + r.hits.length}`;
  $('prev').disabled = offset === 0;
  $('next').disabled = offset + r.hits.length >= r.total;
  const body = $('results');
  body.replaceChildren();
  for (const h of r.hits) {
    const row = document.createElement('tr');
    row.dataset.idnat = h.idnat;
    cell(row, h.idnat);
    cell(row, h.family_name || '');
    cell(row, h.given_name || '');
    cell(row, (h.professions || []).map(professionLabel).join(', '));
    cell(row, (h.authorities || []).join(', '));
    cell(row, h.place || '');
    body.appendChild(row);
  }
}

// A bar chart of counts (largest first); clicking a bar applies it as a filter.
function renderChart(id, counts, label, filter) {
  const box = $(id);
  box.replaceChildren();
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const max = Math.max(1, ...entries.map((e) => e[1]));
  for (const [key, n] of entries) {
    const bar = document.createElement('button');
    bar.type = 'button';
    bar.className = 'bar';
    bar.dataset.key = key;
    bar.dataset.count = String(n);
    bar.title = `${label(key)}: ${n}`;
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label(key);
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.width = `${(100 * n) / max}%`;
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = n.toLocaleString('fr-FR');
    bar.append(name, fill, count);
    bar.addEventListener('click', () => applyFilter(filter, key));
    box.appendChild(bar);
  }
}

function applyFilter(filter, value) {
  $(filter).value = value;
  offset = 0;
  refresh();
}

async function refresh() {
  const mine = ++seq;
  const p = query();
  p.set('limit', LIMIT);
  p.set('offset', offset);
  document.body.dataset.state = 'loading';
  try {
    const r = await api('/v1/search?' + p);
    if (mine !== seq) return;
    renderResults(r);
    renderChart('chart-profession', r.facets.profession, professionLabel, 'profession');
    renderChart('chart-authority', r.facets.authority_kind, (k) => k, 'authority');
    renderChart('facet-department', r.facets.department, (k) => k, 'department');
    setStatus(`génération ${r.generation}`);
    document.body.dataset.state = 'ready';
    document.body.dataset.query = p.toString();
  } catch (e) {
    if (mine !== seq) return;
    setStatus(e.message, true);
    document.body.dataset.state = 'error';
  }
}

function later() {
  clearTimeout(timer);
  timer = setTimeout(() => { offset = 0; refresh(); }, 150);
}

async function loadProfessions() {
  try {
    const codes = await api('/v1/codes/profession');
    const select = $('profession');
    for (const c of codes.sort((a, b) => a.label.localeCompare(b.label, 'fr'))) {
      professions[c.code] = c.label;
      const o = document.createElement('option');
      o.value = c.code;
      o.textContent = `${c.label} (${c.code})`;
      select.appendChild(o);
    }
  } catch (e) {
    setStatus(e.message, true);
  }
}

document.addEventListener('DOMContentLoaded', async () => {
  // The token lives as long as the tab (sessionStorage), never on disk for good; an old stored one is removed.
  try { localStorage.removeItem('annuaire-token'); } catch (e) { /* storage disabled */ }
  $('token').value = sessionStorage.getItem('annuaire-token') || '';
  $('token').addEventListener('change', () => { sessionStorage.setItem('annuaire-token', $('token').value.trim()); refresh(); });
  $('q').addEventListener('input', later);
  for (const f of FILTERS) $(f).addEventListener(f === 'profession' ? 'change' : 'input', later);
  $('clear').addEventListener('click', () => { $('q').value = ''; for (const f of FILTERS) $(f).value = ''; offset = 0; refresh(); });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); refresh(); });
  $('next').addEventListener('click', () => { offset += LIMIT; refresh(); });
  await loadProfessions();
  refresh();
});
