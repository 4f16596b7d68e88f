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
}
refresh(); setInterval(refresh, 1000);
