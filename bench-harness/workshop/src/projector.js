// The projector view: a run in progress, drawn from what its perflab streams (live.rs).
// It keeps a copy of the server's board: a snapshot, then each numbered batch after it,
// applied exactly as Board::apply does; `resync` (the page fell behind) starts again from a
// snapshot. Every text a student sent is set with textContent, never as markup.
'use strict';
const base = location.pathname.replace(/\/projector$/, '');
const COLORS = ['#7f7f7f', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const SVG = 'http://www.w3.org/2000/svg';
const MAX_RUNS = 16;
let runs = [];
let seq = 0;          // the last batch applied
let pending = null;   // batches that arrive while a snapshot is on its way
let chosen = new URLSearchParams(location.search).get('run');

function apply(post) {
  let r = runs.find(x => x.run === post.run);
  if (!r) {
    r = { run: post.run, student: post.student, lab: post.lab, variants: post.variants,
          rounds: [], log: [], verdict: null, ended: null };
    runs.push(r);
    if (runs.length > MAX_RUNS) runs.shift();
  }
  for (const e of post.events) {
    if (e.kind === 'round') {
      r.rounds.push({ at: e.at, variant: e.variant, label: e.label, measured: e.measured,
                      seconds: e.seconds, points: [] });
    } else if (e.kind === 'tick') {
      const last = r.rounds[r.rounds.length - 1];
      if (last) last.points.push([e.at, e.rate, e.p99_ms]);
    } else if (e.kind === 'round_done') {
      r.log.push(e.line);
    } else if (e.kind === 'ended') {
      r.ended = e.reason;
    } else if (e.kind === 'verdict') {
      const { kind, ...v } = e;
      r.verdict = v;
    }
  }
}

function el(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Round numbers for an axis: 0 and about four steps of 1, 2 or 5 × 10^k.
function ticks(max) {
  const raw = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * p).find(s => s >= raw);
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(v);
  return out;
}

function show(v) {
  if (v >= 100) return Math.round(v).toLocaleString('en');
  if (v >= 10) return v.toFixed(1);
  return v.toPrecision(2);
}

// One metric of a run over time: a line per round, coloured by variant; warm-up dashed.
function chart(svg, r, index, unit) {
  svg.replaceChildren();
  const W = 1000, H = 280, L = 80, R = 20, T = 20, B = 40;
  let xmax = 1, ymax = 0;
  for (const round of r.rounds) {
    xmax = Math.max(xmax, round.at + round.seconds);
    for (const p of round.points) { xmax = Math.max(xmax, p[0]); ymax = Math.max(ymax, p[index]); }
  }
  ymax = ymax > 0 ? ymax * 1.1 : 1;
  const x = t => L + (t / xmax) * (W - L - R);
  const y = v => H - B - (v / ymax) * (H - T - B);
  svg.appendChild(el('rect', { x: L, y: T, width: W - L - R, height: H - T - B, fill: 'none', stroke: '#ccc' }));
  for (const v of ticks(ymax)) {
    svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#eee' }));
    svg.appendChild(el('text', { x: L - 8, y: y(v) + 5, 'text-anchor': 'end' }, show(v)));
  }
  for (const t of ticks(xmax)) {
    svg.appendChild(el('text', { x: x(t), y: H - B + 22, 'text-anchor': 'middle' }, show(t) + ' s'));
  }
  svg.appendChild(el('text', { x: 16, y: H / 2, transform: `rotate(-90 16 ${H / 2})`, 'text-anchor': 'middle' }, unit));
  for (const round of r.rounds) {
    if (round.points.length === 0) continue;
    const colour = COLORS[Math.max(0, r.variants.indexOf(round.variant)) % COLORS.length];
    // From the round's start at its first value: a round too short for more than its final
    // figures still shows as a segment across its time.
    const points = [[round.at, round.points[0][1], round.points[0][2]], ...round.points]
      .map(p => `${x(p[0]).toFixed(1)},${y(p[index]).toFixed(1)}`).join(' ');
    const line = el('polyline', { points, fill: 'none', stroke: colour, 'stroke-width': round.measured ? 3 : 2,
                                  'class': round.measured ? 'measured' : 'warmup' });
    if (!round.measured) { line.setAttribute('stroke-dasharray', '6 5'); line.setAttribute('opacity', '0.6'); }
    line.appendChild(el('title', {}, round.label));
    svg.appendChild(line);
  }
}

function ratio(v) { return v === null || v === undefined ? '—' : v.toFixed(2) + '×'; }

function render() {
  const r = runs.find(x => x.run === chosen) || runs[runs.length - 1];
  document.getElementById('waiting').hidden = !!r;
  document.getElementById('run').hidden = !r;
  const list = document.getElementById('runs');
  list.replaceChildren();
  for (const other of runs.slice().reverse()) {
    const a = document.createElement('a');
    a.href = `?run=${encodeURIComponent(other.run)}`;
    a.textContent = `${other.student} · ${other.lab}`;
    if (r && other.run === r.run) a.className = 'current';
    a.onclick = ev => { ev.preventDefault(); chosen = other.run; history.replaceState(null, '', a.href); render(); };
    list.appendChild(a);
  }
  if (!r) return;
  document.getElementById('who').textContent = `${r.lab} — ${r.student}`;
  const last = r.rounds[r.rounds.length - 1];
  const now = document.getElementById('now');
  if (r.verdict) now.textContent = 'finished';
  else if (r.ended) now.textContent = 'stopped: ' + r.ended;
  else if (last) now.textContent = 'now: ' + last.label + (last.measured ? '' : ' (warm-up, not measured)');
  else now.textContent = 'starting';
  const legend = document.getElementById('legend');
  legend.replaceChildren();
  r.variants.forEach((v, i) => {
    const item = document.createElement('span');
    const swatch = document.createElement('b');
    swatch.style.color = COLORS[i % COLORS.length];
    swatch.textContent = '━━ ';
    item.append(swatch, v + '   ');
    legend.appendChild(item);
  });
  legend.append('· dashed: warm-up (not measured) · p99 is the round\'s so far');
  chart(document.getElementById('throughput'), r, 1, 'req/s');
  chart(document.getElementById('latency'), r, 2, 'p99 (ms)');
  const log = document.getElementById('log');
  log.replaceChildren(...r.log.slice(-6).map(line => {
    const li = document.createElement('li'); li.textContent = line; return li;
  }));
  const verdict = document.getElementById('verdict');
  verdict.hidden = !r.verdict;
  verdict.replaceChildren();
  if (r.verdict) {
    const v = r.verdict;
    const h = document.createElement('h2');
    h.textContent = v.status === 'complete' ? 'Verdict' : `Verdict — this run is ${v.status}`;
    verdict.appendChild(h);
    if (v.invalid_reason) {
      const p = document.createElement('p'); p.className = 'flag'; p.textContent = v.invalid_reason;
      verdict.appendChild(p);
    }
    for (const c of v.comparisons) {
      const p = document.createElement('p');
      p.className = 'comparison';
      const interval = c.low !== null && c.low !== undefined ? ` [${c.low.toFixed(2)}, ${c.high.toFixed(2)}]` : '';
      p.textContent = `${c.candidate} against ${v.baseline}: ${c.metric || 'headline'} ${ratio(c.ratio)}${interval} — ${c.verdict || 'no verdict'}`;
      verdict.appendChild(p);
    }
  }
}

// The snapshot is asked for once the stream is open, so every batch after it arrives on the
// stream; those it already holds are skipped by number.
async function resync() {
  pending = [];
  const snapshot = await (await fetch(base + '/live.json')).json();
  runs = snapshot.runs;
  seq = snapshot.seq;
  const waiting = pending;
  pending = null;
  for (const u of waiting) receive(u);
  render();
}

function receive(update) {
  if (pending) { pending.push(update); return; }
  if (update.seq <= seq) return;
  seq = update.seq;
  apply(update);
}

const events = new EventSource(base + '/live/events');
events.onmessage = m => {
  if (m.data === 'resync') { resync(); return; }
  receive(JSON.parse(m.data));
  if (!pending) render();
};
events.onopen = resync;
