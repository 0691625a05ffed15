// Small, dependency-free SVG charts for the experiment reports: a line plot (linear or log x) and
// a grouped bar chart. npm's charting libraries either need a DOM (Observable Plot, D3 axes via
// jsdom) or a browser/canvas (Vega's PNG path); a report needs neither, so this file writes the
// SVG text directly. Output is deterministic (same input, same bytes), so reports diff cleanly.

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  /** Fixed y range; by default the data's range (from 0 when all y >= 0). */
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
}

export interface BarChart {
  title: string;
  yLabel: string;
  /** One group of bars per category (x tick). */
  categories: string[];
  /** One bar per series in each group; values[i] belongs to categories[i]. */
  series: { name: string; values: number[] }[];
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };
const LEGEND_ROW_PX = 16;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : Number(n.toFixed(2)).toString();
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 10_000) return `${fmt(v / 1000)}k`;
  if (a !== 0 && a < 0.01) return v.toExponential(0);
  return fmt(v);
}

function frame(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

export function linePlot(plot: LinePlot): string {
  const width = plot.width ?? 640;
  const height = plot.height ?? 400;
  const points = plot.series
    .flatMap((s) => s.points)
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = points.map((p) => (plot.xLog ? Math.log10(Math.max(p.x, 1e-9)) : p.x));
  const ys = points.map((p) => p.y);
  let xLo = xs.length ? Math.min(...xs) : 0;
  let xHi = xs.length ? Math.max(...xs) : 1;
  if (plot.xLog) {
    xLo = Math.floor(xLo);
    xHi = Math.ceil(xHi);
  }
  if (xHi === xLo) xHi = xLo + 1;
  let yLo = plot.yMin ?? (ys.length && Math.min(...ys) < 0 ? Math.min(...ys) : 0);
  let yHi = plot.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (yHi === yLo) {
    yHi += 1;
    yLo -= plot.yMin === undefined && yLo !== 0 ? 1 : 0;
  }
  const legendPx = plot.series.length * LEGEND_ROW_PX;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom - legendPx;
  const sx = (x: number) => MARGIN.left + ((x - xLo) / (xHi - xLo)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((y - yLo) / (yHi - yLo)) * plotH;
  const out = frame(width, height, plot.title);
  // Axes and grid.
  const xTicks = plot.xLog
    ? Array.from({ length: xHi - xLo + 1 }, (_, i) => xLo + i)
    : niceTicks(xLo, xHi, Math.max(2, Math.floor(plotW / 80)));
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    const label = plot.xLog ? tickLabel(10 ** t) : tickLabel(t);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 14}" text-anchor="middle">${label}</text>`);
  }
  for (const t of niceTicks(yLo, yHi, Math.max(2, Math.floor(plotH / 50)))) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#eee"/>`);
    out.push(
      `<text x="${MARGIN.left - 4}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 32}" text-anchor="middle">${escapeXml(plot.xLabel)}${plot.xLog ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(14 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(plot.yLabel)}</text>`,
  );
  // Lines, clipped to the plot area.
  out.push(
    `<clipPath id="plot-area"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}"/></clipPath>`,
  );
  plot.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!plot.xLog || p.x > 0))
      .map((p) => `${sx(plot.xLog ? Math.log10(p.x) : p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<polyline clip-path="url(#plot-area)" fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.join(' ')}"><title>${escapeXml(s.name)}</title></polyline>`,
    );
    const ly = height - legendPx - 6 + i * LEGEND_ROW_PX;
    out.push(
      `<line x1="${MARGIN.left}" y1="${ly}" x2="${MARGIN.left + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${MARGIN.left + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function barChart(chart: BarChart): string {
  const width = chart.width ?? 640;
  const height = chart.height ?? 380;
  const values = chart.series.flatMap((s) => s.values).filter(Number.isFinite);
  const yHi = values.length ? Math.max(...values) * 1.1 || 1 : 1;
  const legendPx = chart.series.length * LEGEND_ROW_PX;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom - legendPx;
  const sy = (y: number) => MARGIN.top + plotH - (y / yHi) * plotH;
  const out = frame(width, height, chart.title);
  for (const t of niceTicks(0, yHi, Math.max(2, Math.floor(plotH / 50)))) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#eee"/>`);
    out.push(
      `<text x="${MARGIN.left - 4}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`,
    );
  }
  const groupW = plotW / Math.max(1, chart.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, chart.series.length);
  chart.categories.forEach((category, c) => {
    const gx = MARGIN.left + c * groupW + groupW * 0.1;
    chart.series.forEach((s, i) => {
      const v = s.values[c] ?? Number.NaN;
      if (!Number.isFinite(v)) return;
      const x = (gx + i * barW).toFixed(1);
      const y = sy(v);
      out.push(
        `<rect x="${x}" y="${y.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(MARGIN.top + plotH - y).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${escapeXml(`${s.name} ${category}: ${fmt(v)}`)}</title></rect>`,
      );
    });
    out.push(
      `<text x="${(gx + groupW * 0.4).toFixed(1)}" y="${MARGIN.top + plotH + 14}" text-anchor="middle">${escapeXml(category)}</text>`,
    );
  });
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text transform="translate(14 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const ly = height - legendPx - 6 + i * LEGEND_ROW_PX;
    out.push(
      `<rect x="${MARGIN.left}" y="${ly - 5}" width="24" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${MARGIN.left + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
