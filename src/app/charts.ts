// Charts as plain SVG (no chart library): a line/point chart and a bar chart, each with a
// title for screen readers, labelled axes and a legend. Sized in viewBox units; CSS scales it.
const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export interface Point {
  x: number;
  y: number;
  /** Shown as a tooltip (<title>) on the point. */
  label?: string;
}

export interface Series {
  name: string;
  color: string;
  points: Point[];
  dashed?: boolean;
  /** Draw points only (no connecting line). */
  pointsOnly?: boolean;
}

export interface AxisOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xDomain: [number, number];
  yDomain: [number, number];
  xTicks?: number[];
  yTicks?: number[];
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

// The right margin leaves room for a point and a tick label at the x domain's end.
const M = { left: 56, right: 28, top: 30, bottom: 44 };

/** About n ticks at round steps (1, 2, 5 × 10^k) inside [a, b]; always includes a. */
export function ticks([a, b]: [number, number], n = 5): number[] {
  const span = b - a;
  if (!(span > 0)) return [a];
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const out: number[] = [];
  for (let v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function frame(o: AxisOptions) {
  const W = o.width ?? 560;
  const H = o.height ?? 300;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': o.title });
  svg.append(el('title', {}, o.title));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const [x0, x1] = o.xDomain;
  const [y0, y1] = o.yDomain;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => M.top + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  const grid = el('g', { class: 'grid' });
  const axis = el('g', { class: 'axis' });
  const xf = o.xFormat ?? ((v: number) => String(+v.toFixed(2)));
  const yf = o.yFormat ?? ((v: number) => String(+v.toFixed(2)));
  for (const t of o.yTicks ?? ticks(o.yDomain)) {
    grid.append(el('line', { x1: M.left, x2: M.left + pw, y1: sy(t), y2: sy(t) }));
    axis.append(el('text', { x: M.left - 6, y: sy(t) + 4, 'text-anchor': 'end' }, yf(t)));
  }
  for (const t of o.xTicks ?? ticks(o.xDomain)) {
    grid.append(el('line', { x1: sx(t), x2: sx(t), y1: M.top, y2: M.top + ph }));
    axis.append(el('text', { x: sx(t), y: M.top + ph + 16, 'text-anchor': 'middle' }, xf(t)));
  }
  axis.append(el('line', { x1: M.left, x2: M.left + pw, y1: M.top + ph, y2: M.top + ph }));
  axis.append(el('line', { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ph }));
  axis.append(el('text', { x: M.left + pw / 2, y: H - 6, 'text-anchor': 'middle' }, o.xLabel));
  axis.append(el('text', { x: 14, y: M.top + ph / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${M.top + ph / 2})` }, o.yLabel));
  svg.append(grid, axis);
  return { svg, sx, sy, W, pw };
}

function legend(svg: SVGSVGElement, items: { name: string; color: string; dashed?: boolean }[], right: number): void {
  const g = el('g', { class: 'legend' });
  let x = right;
  // Right-aligned, laid out from the right edge leftwards.
  for (const it of [...items].reverse()) {
    const w = 34 + it.name.length * 7.2; // ~7 px per character at 12 px, plus the swatch and a gap
    x -= w;
    g.append(el('line', { x1: x, x2: x + 18, y1: 12, y2: 12, stroke: it.color, 'stroke-width': 3, 'stroke-dasharray': it.dashed ? '5 3' : 'none' }));
    g.append(el('text', { x: x + 22, y: 16 }, it.name));
  }
  svg.append(g);
}

/** Lines (or points) over numeric x and y. */
export function lineChart(series: Series[], o: AxisOptions): SVGSVGElement {
  const { svg, sx, sy, W } = frame(o);
  for (const s of series) {
    const g = el('g', { 'data-series': s.name });
    if (!s.pointsOnly && s.points.length > 1) {
      const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
      g.append(el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2.5, 'stroke-dasharray': s.dashed ? '6 4' : 'none' }));
    }
    for (const p of s.points) {
      const c = el('circle', { cx: sx(p.x), cy: sy(p.y), r: 4.5, fill: s.color, stroke: '#fff', 'stroke-width': 1.5 });
      c.append(el('title', {}, p.label ?? `${s.name}: ${p.x}, ${p.y}`));
      g.append(c);
    }
    svg.append(g);
  }
  legend(svg, series, W - M.right);
  return svg;
}

export interface Bar {
  label: string;
  value: number;
  /** Tooltip text. */
  title?: string;
}

/** Vertical bars on a category axis, each with its value printed above it. */
export function barChart(bars: Bar[], o: Omit<AxisOptions, 'xDomain' | 'xTicks' | 'xFormat'> & { color: string; valueFormat?: (v: number) => string; overlay?: Series }): SVGSVGElement {
  const n = Math.max(1, bars.length);
  const { svg, sx, sy } = frame({ ...o, xDomain: [0, n], xTicks: [] });
  const slot = sx(1) - sx(0);
  const g = el('g', { class: 'bars' });
  bars.forEach((b, i) => {
    const x = sx(i) + slot * 0.15;
    const y = sy(b.value);
    const r = el('rect', { x, y, width: slot * 0.7, height: Math.max(0, sy(o.yDomain[0]) - y), fill: o.color, rx: 2 });
    r.append(el('title', {}, b.title ?? `${b.label}: ${b.value}`));
    g.append(r);
    g.append(el('text', { x: x + slot * 0.35, y: y - 4, 'text-anchor': 'middle' }, (o.valueFormat ?? String)(b.value)));
    g.append(el('text', { x: x + slot * 0.35, y: sy(o.yDomain[0]) + 16, 'text-anchor': 'middle' }, b.label));
  });
  svg.append(g);
  if (o.overlay) {
    const s = o.overlay;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${(sx(p.x) + slot * 0.5).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    svg.append(el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '6 4' : 'none' }));
    legend(svg, [{ name: o.yLabel, color: o.color }, s], (o.width ?? 560) - M.right);
  }
  return svg;
}
