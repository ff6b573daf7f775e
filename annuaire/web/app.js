// annuaire: the analysts' page. Plain JavaScript, no build step. It calls the binary's own API:
// GET /v1/search (hits, total, facets; scope `search`), GET /v1/professionals/{id} (the card), GET /v1/export (the
// downloads), and the public GET /v1/codes/profession and GET /v1/departments (labels, the map's squares).
// The query and the filters live in the address (a link opens the same view; back and forward work).
'use strict';
const $ = (id) => document.getElementById(id);
const FILTERS = ['profession', 'authority', 'department', 'commune', 'savoir_faire'];
const LIMIT = 20;
const professions = {};   // code -> label
const departments = [];   // {code, name, row, col}
const KINDS = { ordre: 'Ordre professionnel', ars: 'Agence régionale de santé', local: 'Autorité locale', unknown: 'Inconnue' };
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

async function call(path) {
  const token = $('token').value.trim();
  const r = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  if (r.status === 401 || r.status === 403) throw new Error('un jeton avec le scope « search » est nécessaire');
  return r;
}

async function api(path) {
  const r = await call(path);
  const body = await r.json().catch(() => ({}));
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
    row.tabIndex = 0;
    row.setAttribute('aria-label', `${h.family_name} ${h.given_name} : ouvrir la fiche`);
    cell(row, h.idnat);
    cell(row, h.family_name || '');
    cell(row, h.given_name || '');
    cell(row, (h.professions || []).map(professionLabel).join(', '));
    cell(row, (h.authorities || []).join(', '));
    cell(row, h.place || '');
    row.addEventListener('click', () => openCard(h.idnat));
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openCard(h.idnat); }
      if (e.key === 'ArrowDown' && row.nextElementSibling) row.nextElementSibling.focus();
      if (e.key === 'ArrowUp' && row.previousElementSibling) row.previousElementSibling.focus();
    });
    body.appendChild(row);
  }
}

// A bar chart of counts, largest first, each bar with its whole label above it and its count at its end; clicking
// (or Enter on) a bar applies it as a filter.
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
    bar.setAttribute('aria-label', `${label(key)} : ${n}, filtrer`);
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

// The tile map: one square per department at its place on the grid, its colour by count (five steps, light to
// dark), the count on hover, a click (or Enter) filters by it.
function renderMap(counts) {
  const box = $('map');
  box.replaceChildren();
  const max = Math.max(1, ...Object.values(counts || {}));
  for (const d of departments) {
    const n = (counts || {})[d.code] || 0;
    const tile = document.createElement('button');
    tile.type = 'button';
    tile.className = 'tile';
    tile.dataset.key = d.code;
    tile.dataset.count = String(n);
    const step = n === 0 ? 0 : 1 + Math.min(4, Math.floor((4 * n) / max));
    tile.dataset.step = String(step);
    tile.style.gridRow = String(d.row + 1);
    tile.style.gridColumn = String(d.col + 1);
    tile.textContent = d.code;
    tile.title = `${d.name} (${d.code}) : ${n.toLocaleString('fr-FR')}`;
    tile.setAttribute('aria-label', `${d.name} : ${n}, filtrer`);
    tile.addEventListener('click', () => applyFilter('department', d.code));
    box.appendChild(tile);
  }
}

function applyFilter(filter, value) {
  $(filter).value = value;
  offset = 0;
  refresh(true);
}

// The address holds the view: text, filters, and the page when not the first.
function toAddress(p) {
  const a = new URLSearchParams(p);
  a.delete('limit');
  if (offset === 0) a.delete('offset');
  const url = a.toString() ? `?${a}` : location.pathname;
  return url;
}

function fromAddress() {
  const a = new URLSearchParams(location.search);
  $('q').value = a.get('text') || '';
  for (const f of FILTERS) $(f).value = a.get(f) || '';
  offset = Math.max(0, parseInt(a.get('offset') || '0', 10) || 0);
}

async function refresh(push) {
  const mine = ++seq;
  const p = query();
  p.set('limit', LIMIT);
  p.set('offset', offset);
  const address = toAddress(p);
  if (address !== location.pathname + location.search && address !== location.search) {
    if (push) history.pushState(null, '', address); else history.replaceState(null, '', address);
  }
  document.body.dataset.state = 'loading';
  try {
    const r = await api('/v1/search?' + p);
    if (mine !== seq) return;
    renderResults(r);
    renderMap(r.facets.department);
    renderChart('chart-profession', r.facets.profession, professionLabel, 'profession');
    renderChart('chart-authority', r.facets.authority_kind, (k) => KINDS[k] || k, 'authority');
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
  timer = setTimeout(() => { offset = 0; refresh(false); }, 150);
}

function coded(c) {
  if (!c) return '';
  return c.label ? `${c.label} (${c.code || ''})` : (c.code || '');
}

function element(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

// The professional's card, from GET /v1/professionals/{id}: identity, exercices (profession, category,
// savoir-faire, authority) with every activity and its structure, cards, mailboxes, and the history by generation.
async function openCard(idnat) {
  try {
    const p = await api('/v1/professionals/' + encodeURIComponent(idnat));
    const first = (p.exercices || [])[0] || {};
    $('card-title').textContent = `${first.family_name || ''} ${first.given_name || ''} — ${p.idnat}`;
    const body = $('card-body');
    body.replaceChildren();
    body.dataset.idnat = p.idnat;
    const id = element('p', `idNat ${p.idnat} · ${p.id_type === '8' ? 'RPPS' : p.id_type === '0' ? 'ADELI' : 'type ' + (p.id_type || '?')} ${p.id || ''} · génération ${p.generation}` + (p.civilite ? ` · ${coded(p.civilite)}` : ''));
    body.appendChild(id);
    for (const e of p.exercices || []) {
      const section = element('section', undefined, 'exercice');
      section.appendChild(element('h3', `${coded(e.profession)} — ${coded(e.category)}`));
      const a = e.authority || {};
      section.appendChild(element('p', `Autorité d'enregistrement : ${a.name || '–'} (${KINDS[a.kind] || a.kind || '–'})`));
      if ((e.savoir_faire || []).length) {
        section.appendChild(element('p', 'Savoir-faire : ' + e.savoir_faire.map((s) => `${coded(s.code)} [${coded(s.kind)}]`).join(' ; ')));
      }
      const list = element('ul', undefined, 'activities');
      for (const act of e.activities || []) {
        const s = act.structure || {};
        const address = [s.street_number, s.street_repetition, s.street_type && s.street_type.label, s.street_label, s.postal_code, s.commune && s.commune.label].filter(Boolean).join(' ');
        list.appendChild(element('li', `${s.name || s.commercial_name || 'structure ' + (s.technical_id || '?')} — ${address || 'adresse inconnue'} · ${coded(act.mode)}` + (act.sector ? ` · ${coded(act.sector)}` : '') + (s.siret ? ` · SIRET ${s.siret}` : '') + (s.finess_site ? ` · FINESS ${s.finess_site}` : '')));
      }
      if (list.children.length) section.appendChild(list);
      body.appendChild(section);
    }
    const valid = new Set(p.valid_cards || []);
    const cards = (p.cards || []).map((c) => `${coded(c.card_type)} ${c.number} : ${valid.has(c.number) ? 'valide' : 'non valide'}${c.valid_to ? ' jusqu’au ' + c.valid_to : ''}`);
    body.appendChild(element('p', 'Cartes : ' + (cards.length ? cards.join(' ; ') : 'aucune'), 'cards'));
    const boxes = (p.mailboxes || []).map((m) => m.address);
    body.appendChild(element('p', 'Messageries MSSanté : ' + (boxes.length ? boxes.join(', ') : 'aucune'), 'mailboxes'));
    const history = (p.history || []).map((h) => `génération ${h.generation} : ${h.change} (${h.promoted_at})`);
    body.appendChild(element('p', 'Historique : ' + history.join(' ; '), 'history'));
    if (!$('card').open) $('card').showModal();
    $('card-close').focus();
  } catch (e) {
    setStatus(e.message, true);
  }
}

// Every row matching the filters, from the server, as a file: fetched with the token, then saved.
async function download(format) {
  const p = query();
  p.delete('text');
  p.set('format', format);
  setStatus(`préparation du fichier ${format.toUpperCase()}…`);
  try {
    const r = await call('/v1/export?' + p);
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).message || ('HTTP ' + r.status));
    const blob = await r.blob();
    if (format === 'csv') {
      const text = await blob.text();
      document.body.dataset.downloadedRows = String(Math.max(0, text.split('\n').filter((l) => l.length).length - 1));
    }
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = (r.headers.get('content-disposition') || '').split('filename="')[1]?.replace('"', '') || `annuaire.${format}`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    setStatus(`fichier ${format.toUpperCase()} téléchargé`);
  } catch (e) {
    setStatus(e.message, true);
  }
}

async function loadTables() {
  try {
    const [codes, tiles] = await Promise.all([api('/v1/codes/profession'), api('/v1/departments')]);
    departments.push(...tiles);
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
  $('token').addEventListener('change', () => { sessionStorage.setItem('annuaire-token', $('token').value.trim()); refresh(false); });
  $('q').addEventListener('input', later);
  for (const f of FILTERS) $(f).addEventListener(f === 'profession' ? 'change' : 'input', later);
  $('clear').addEventListener('click', () => { $('q').value = ''; for (const f of FILTERS) $(f).value = ''; offset = 0; refresh(true); });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); refresh(true); });
  $('next').addEventListener('click', () => { offset += LIMIT; refresh(true); });
  $('download-csv').addEventListener('click', () => download('csv'));
  $('download-parquet').addEventListener('click', () => download('parquet'));
  window.addEventListener('popstate', () => { fromAddress(); refresh(false); });
  await loadTables();
  fromAddress();
  refresh(false);
});
