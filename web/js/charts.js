// Small hand-written SVG charts: a line over time and vertical bars. No library: what we draw is
// a few dozen points, and SVG scales crisply on any screen. Each chart has a <title> and a
// visually hidden table so screen readers get the numbers, not a picture.
const NS = 'http://www.w3.org/2000/svg';
const W = 480;
const H = 250;
const PAD = { l: 58, r: 18, t: 16, b: 42 };

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(title, max, min = 0) {
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title });
  svg.append(el('title', {}, title));
  const ih = H - PAD.t - PAD.b;
  for (let i = 0; i <= 4; i++) {
    const v = min + ((max - min) * i) / 4;
    const y = PAD.t + ih - (ih * i) / 4;
    svg.append(el('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: i ? 'grid' : 'axis' }));
    svg.append(el('text', { x: PAD.l - 8, y: y + 6, 'text-anchor': 'end' }, String(Math.round(v * 10) / 10)));
  }
  return svg;
}

function table(caption, rows) {
  const t = document.createElement('table');
  t.className = 'visually-hidden';
  const c = document.createElement('caption');
  c.textContent = caption;
  t.append(c);
  for (const [k, v] of rows) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(th, td);
    t.append(tr);
  }
  return t;
}

/** points: [{label, value}] in order; a line with dots and the first/last labels on the x axis. */
export function lineChart(title, points, { unit = '', min } = {}) {
  const wrap = document.createElement('figure');
  wrap.style.margin = '0';
  const vals = points.map((p) => p.value);
  const lo = min ?? Math.min(0, ...vals);
  const max = niceMax(Math.max(...vals, lo + 1));
  const svg = frame(title, max, lo);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i) => PAD.l + (points.length === 1 ? iw / 2 : (iw * i) / (points.length - 1));
  const y = (v) => PAD.t + ih - (ih * (v - lo)) / (max - lo || 1);
  if (points.length > 1) {
    svg.append(el('polyline', { class: 'line', points: points.map((p, i) => `${x(i)},${y(p.value)}`).join(' ') }));
  }
  points.forEach((p, i) => {
    const c = el('circle', { cx: x(i), cy: y(p.value), r: 5, class: 'dot' });
    c.append(el('title', {}, `${p.label}: ${p.value}${unit}`));
    svg.append(c);
    if (i === 0 || i === points.length - 1 || points.length <= 3) {
      svg.append(el('text', { x: x(i), y: H - 12, 'text-anchor': points.length === 1 ? 'middle' : i === 0 ? 'start' : i === points.length - 1 ? 'end' : 'middle' }, p.label));
    }
  });
  wrap.append(svg, table(title, points.map((p) => [p.label, `${p.value}${unit}`])));
  return wrap;
}

/** bars: [{label, value, alt?}]; alt bars use the second colour (e.g. no-shows). */
export function barChart(title, bars, { unit = '' } = {}) {
  const wrap = document.createElement('figure');
  wrap.style.margin = '0';
  // Counts: a multiple of 4 so the four grid lines fall on whole numbers.
  const top = Math.max(4, ...bars.map((b) => b.value));
  const max = top <= 20 ? Math.ceil(top / 4) * 4 : niceMax(top);
  const svg = frame(title, max);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const slot = iw / Math.max(1, bars.length);
  const bw = Math.min(48, slot * 0.7);
  bars.forEach((b, i) => {
    const hgt = (ih * b.value) / max;
    const bx = PAD.l + slot * i + (slot - bw) / 2;
    const r = el('rect', { x: bx, y: PAD.t + ih - hgt, width: bw, height: Math.max(0, hgt), class: 'bar' + (b.alt ? ' alt' : '') });
    r.append(el('title', {}, `${b.label}: ${b.value}${unit}`));
    svg.append(r);
    if (bars.length <= 12) svg.append(el('text', { x: bx + bw / 2, y: H - 12, 'text-anchor': 'middle' }, b.label));
  });
  wrap.append(svg, table(title, bars.map((b) => [b.label, `${b.value}${unit}`])));
  return wrap;
}
