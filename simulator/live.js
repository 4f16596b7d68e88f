// Everything on the page comes from containers' reports and logs: text is escaped, numbers
// are numbers (anything else is left out), before it reaches markup.
const esc = s => String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const num = v => (typeof v === 'number' && Number.isFinite(v)) ? v : null;
const shown = v => num(v) === null ? '' : num(v);
const cls = v => { const s = String(v); return s.startsWith('running') ? 'running' : s.startsWith('waiting') ? 'waiting'
  : s.startsWith('failed') ? 'failed' : s.startsWith('ok') ? 'ok' : 'stopped'; };
function chart(events) {
  const ev = events.filter(e => e.history && e.history.length).slice(-1)[0];
  const svg = document.getElementById('chart'); let out = '', points = 0;
  const W = 440, H = 240, L = 40, B = 28, n = ev ? Math.max(num(ev.num_rounds) || 1, ev.history.length) : 3;
  const x = r => L + (W - L - 15) * (n > 1 ? (r - 1) / (n - 1) : 0.5), y = a => H - B - (H - B - 12) * a;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) out += `<line x1="${L}" x2="${W-10}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`
    + `<text x="4" y="${y(t)+4}" font-size="10">${t}</text>`;
  for (let r = 1; r <= n; r++) out += `<text x="${x(r)-3}" y="${H-10}" font-size="10">${r}</text>`;
  out += `<text x="${W/2-20}" y="${H-1}" font-size="10">round</text>`;
  if (ev) {
    const sites = [...new Set(ev.history.flatMap(h => Object.keys(h.sites || {})))].sort();
    const colors = ['#69c', '#c96', '#9c6', '#c69'];
    const line = (vals, color, width, name) => {
      const pts = ev.history.map((h, i) => [num(h.round), num(vals[i])]).filter(p => p[0] !== null && p[1] !== null);
      if (!pts.length) return;
      out += `<polyline fill="none" stroke="${color}" stroke-width="${width}" points="${pts.map(p => x(p[0]) + ',' + y(p[1])).join(' ')}"/>`;
      for (const p of pts) { out += `<circle class="point" cx="${x(p[0])}" cy="${y(p[1])}" r="3" fill="${color}"><title>${esc(name)} round ${p[0]}: ${p[1]}</title></circle>`; points++; }
    };
    sites.forEach((s, i) => line(ev.history.map(h => (h.sites[s] || {}).val_acc), colors[i % 4], 1.5, s));
    sites.forEach((s, i) => out += `<text x="${W-150}" y="${H-B-10-14*i}" font-size="10" fill="${colors[i % 4]}">${esc(s)}</text>`);
    line(ev.history.map(h => h.global_val_acc), '#222', 3, 'global model');
    out += `<text x="${L+5}" y="12" font-size="11">validation accuracy: sites (thin), global model (thick)</text>`;
  }
  svg.innerHTML = out; svg.dataset.points = points;
}

// The federation as a picture, built with DOM calls: every text a text node, every number a number.
const SVG = 'http://www.w3.org/2000/svg';
const STATES = ['not started', 'waiting', 'training', 'done', 'failed'];
function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
const cut = (s, n) => { s = s === null || s === undefined ? '' : String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; };
function federation(f) {
  const svg = document.getElementById('federation');
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const nodes = (f && Array.isArray(f.nodes)) ? f.nodes : [];
  const sites = nodes.filter(n => n.kind === 'site');
  const W = 960, w = Math.max(110, Math.min(190, (W - 20) / Math.max(sites.length, 1) - 12)), h = 70;
  const at = {};
  for (const n of nodes) {
    if (n.kind === 'server') at[n.id] = [W / 2, 10];
    else if (n.kind === 'admin') at[n.id] = [40, 130];
    else if (n.kind === 'aggregator') at[n.id] = [W / 2, 130];
  }
  const step = (W - 20) / Math.max(sites.length, 1);
  sites.forEach((n, i) => { at[n.id] = [10 + step * i + step / 2, 265]; });
  const box = id => { const [cx, y] = at[id] || [0, 0]; const bw = at[id] && (nodes.find(n => n.id === id) || {}).kind === 'site' ? w : 190;
    return {x: (id === 'admin' ? cx : cx - bw / 2), y, w: bw}; };
  const centre = id => { const b = box(id); return [b.x + b.w / 2, b.y + h / 2]; };
  const links = (f && Array.isArray(f.links)) ? f.links : [];
  for (const n of nodes) if (n.kind !== 'server' && at.server) {
    const [x1, y1] = centre('server'), [x2, y2] = centre(n.id);
    svg.appendChild(el('line', {x1, y1: y1 + h / 2, x2, y2: y2 - h / 2, class: 'link records'}));
  }
  for (const l of links) {
    if (!at[l.from] || !at[l.to]) continue;
    const [x1, y1] = centre(l.from), [x2, y2] = centre(l.to);
    const line = el('line', {x1, y1, x2, y2, class: 'link' + (l.active === true ? ' active' : ''),
                            'data-from': l.from, 'data-to': l.to});
    svg.appendChild(line);
  }
  for (const n of nodes) {
    if (!at[n.id]) continue;
    const b = box(n.id), state = STATES.includes(n.state) ? n.state : '';
    const g = el('g', {class: 'node ' + (n.kind === 'server' ? 'server' : state.replace(' ', '-')), 'data-id': n.id, 'data-state': String(n.state || '')});
    g.appendChild(el('rect', {x: b.x, y: b.y, width: b.w, height: h, rx: 6}));
    const chars = Math.floor(b.w / 6.2);
    const lines = [[cut(n.label, chars), 'label'], [cut(n.email, chars), ''], [cut([n.site, n.state].filter(Boolean).join(' · '), chars), ''],
                   [cut(n.milestone, chars), 'milestone']];
    lines.forEach(([text, cls], i) => g.appendChild(el('text', {x: b.x + 6, y: b.y + 15 + 15 * i, class: cls}, text)));
    if (n.milestone) g.appendChild(el('title', {}, String(n.milestone)));
    svg.appendChild(g);
  }
  svg.dataset.nodes = nodes.length;
}
function banner(b) {
  const set = (id, text) => { document.getElementById(id).textContent = text === null || text === undefined ? '' : String(text); };
  if (!b) { set('banner-step', 'no step running'); set('banner-who', ''); set('banner-explain', ''); set('banner-command', ''); return; }
  set('banner-step', b.step); set('banner-who', b.who ? `as ${b.who}` : ''); set('banner-explain', b.explain);
  set('banner-command', b.command ? `$ ${b.command}` : '');
}
function records(tables, changes) {
  const box = document.getElementById('records'), ch = document.getElementById('changes');
  box.textContent = ''; ch.textContent = '';
  if (changes && Array.isArray(changes.lines) && changes.lines.length) {
    const head = document.createElement('b'); head.textContent = `changed by "${cut(changes.step, 80)}":`; ch.appendChild(head);
    const ul = document.createElement('ul');
    for (const line of changes.lines) { const li = document.createElement('li'); li.textContent = String(line); ul.appendChild(li); }
    ch.appendChild(ul);
  }
  for (const t of Array.isArray(tables) ? tables : []) {
    const h = document.createElement('h3'); h.textContent = `${t.table} (${num(t.count) ?? 0})`; box.appendChild(h);
    const ul = document.createElement('ul');
    for (const row of Array.isArray(t.rows) ? t.rows : []) { const li = document.createElement('li'); li.textContent = String(row); ul.appendChild(li); }
    box.appendChild(ul);
  }
}
async function refresh() {
  let s;
  try { s = await (await fetch('state.json', {cache: 'no-store'})).json(); } catch (e) { return; }
  document.getElementById('title').textContent = s.title;
  document.getElementById('elapsed').textContent = num(s.elapsed) === null ? '' :
    `${num(s.elapsed).toFixed(0)} s` + (s.finished ? ' (finished)' : '');
  const r = s.rounds, el = document.getElementById('rounds');
  el.dataset.done = num(r.done) || 0;
  el.textContent = r.event === null ? 'no training event yet'
    : `event ${r.event}: round ${num(r.done) || 0} of ${num(r.total) ?? '?'} done (${r.status})`;
  document.getElementById('roles').innerHTML = '<tr><th>role</th><th>state</th><th>pid</th></tr>' + s.roles
    .filter(x => x.status !== 'log').map(x => `<tr><td>${esc(x.name)}</td><td class="${cls(x.status)}">${esc(x.status)}</td><td>${shown(x.pid)}</td></tr>`).join('');
  document.getElementById('steps').innerHTML = '<tr><th>#</th><th>step</th><th>state</th><th>s</th></tr>' + s.steps
    .map(x => `<tr><td>${shown(x.index)}</td><td>${esc(x.name)}</td><td class="${cls(x.status)}">${esc(x.status)}</td><td>${shown(x.seconds)}</td></tr>`).join('');
  document.getElementById('logs').innerHTML = s.roles.filter(x => Array.isArray(x.log) && x.log.length)
    .map(x => `<b>${esc(x.name)}</b><pre>${esc(x.log.join('\n'))}</pre>`).join('');
  chart(s.events);
  banner(s.banner); federation(s.federation); records(s.records, s.changes);
  document.getElementById('next').hidden = !s.next;
}
// the guide waits for Enter in its terminal, or for this (the server answers only its own header)
document.getElementById('next').addEventListener('click', async (e) => {
  e.target.hidden = true;
  await fetch('next', {method: 'POST', headers: {'X-Medperf-Lite': 'next'}});
  refresh();
});
refresh(); setInterval(refresh, 1000);
