/**
 * The chart of BENCHMARKS.md, drawn by hand as SVG (no chart library): one row per line of the issue's
 * table, the bar showing how far the measured median is from the target (1.0 = on target; right of the
 * line = better than the target), a whisker for the rounds' spread, and a hollow mark for the issue's
 * "today" figure on the same scale.
 */
import type { TableRow } from './table.js';

/** Progress toward a target: > 1 is better than the target, whatever the row's direction. */
function score(row: TableRow, value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  return row.direction === '>=' ? value / row.targetValue : row.targetValue / value;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The SVG text for `rows`. */
export function chartSvg(rows: readonly TableRow[], subtitle: string): string {
  const labelW = 240;
  const plotW = 420;
  const rowH = 26;
  const top = 58;
  const maxScore = 2;
  const width = labelW + plotW + 170;
  const height = top + rows.length * rowH + 46;
  const x = (s: number) => labelW + (Math.min(s, maxScore) / maxScore) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="20" font-size="15" font-weight="600">redis-multitokens vs the targets of issue 9 (1.0 = on target, right = better)</text>`,
    `<text x="12" y="38" fill="#555">${esc(subtitle)}</text>`,
  );
  for (const t of [0, 0.5, 1, 1.5, 2]) {
    out.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${top - 6}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#222' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"${t === 1 ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${x(t)}" y="${top + rows.length * rowH + 14}" text-anchor="middle" fill="#555">${t === 2 ? '≥2' : t}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    out.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end"><title>${esc(row.figure)}</title>${esc(row.label)}</text>`,
    );
    const m = row.measured;
    if (!m) {
      out.push(`<text x="${labelW + 6}" y="${y + 15}" fill="#888">not measured</text>`);
    } else {
      const s = score(row, m.median);
      const color = row.status === 'met' ? '#2e7d32' : '#c62828';
      out.push(
        `<rect x="${labelW}" y="${y + 5}" width="${Math.max(1, x(s) - labelW)}" height="14" fill="${color}" opacity="0.75"/>`,
      );
      const lo = score(row, row.direction === '>=' ? m.min : m.max);
      const hi = score(row, row.direction === '>=' ? m.max : m.min);
      out.push(`<line x1="${x(lo)}" x2="${x(hi)}" y1="${y + 12}" y2="${y + 12}" stroke="#000" stroke-width="1.2"/>`);
      const digits = m.unit === 'x' ? 2 : m.unit === 'ms' ? 2 : 0;
      out.push(
        `<text x="${labelW + plotW + 10}" y="${y + 15}">${m.median.toFixed(digits)} ${m.unit === 'x' ? 'x' : m.unit} <tspan fill="#888">(${esc(row.target.replace(/[,(].*$/, '').trim())})</tspan></text>`,
      );
    }
    const t = score(row, row.issueTodayValue);
    out.push(
      `<circle cx="${x(t)}" cy="${y + 12}" r="4.5" fill="none" stroke="#1565c0" stroke-width="1.6"><title>issue's today: ${esc(row.issueToday)}</title></circle>`,
    );
  });
  const ly = top + rows.length * rowH + 32;
  out.push(
    `<rect x="${labelW}" y="${ly - 9}" width="14" height="10" fill="#2e7d32" opacity="0.75"/><text x="${labelW + 18}" y="${ly}">met</text>`,
    `<rect x="${labelW + 60}" y="${ly - 9}" width="14" height="10" fill="#c62828" opacity="0.75"/><text x="${labelW + 78}" y="${ly}">missed (median; whisker = min..max of rounds)</text>`,
    `<circle cx="${labelW + 400}" cy="${ly - 4}" r="4.5" fill="none" stroke="#1565c0" stroke-width="1.6"/><text x="${labelW + 409}" y="${ly}">the issue's "today"</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
