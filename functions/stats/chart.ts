import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Clock } from './times.ts';

type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface LineSeries {
  label: string;
  /** An SVG paint, set as an attribute (the page's CSP allows no inline style). */
  color: string;
  /** One value per minute; `null` is a gap (no requests), `Infinity` is drawn at the top edge. */
  values: readonly (number | null)[];
}

export interface LineChart {
  /** Unique within the page: the ids of the title and description derive from it. */
  id: string;
  title: string;
  /** What a screen reader says instead of the picture: the figures that matter, in words. */
  description: string;
  /** The start of each minute, ms since the epoch; one per value of every series. */
  minutes: readonly number[];
  series: readonly LineSeries[];
  y: { scale: 'linear'; max: number } | { scale: 'log'; min: number; max: number };
  yTicks: readonly { value: number; label: string }[];
  /** Minutes between labelled ticks on the time axis, placed on round local times. */
  tickEveryMinutes: number;
  clock: Clock;
}

const width = 380;
const height = 170;
const margin = { top: 24, right: 12, bottom: 34, left: 52 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;

/**
 * A small server-rendered line chart over the window's minutes: one path per series with one
 * point (an M or L command) per minute that has a value, round caps so a lone minute still shows
 * as a dot, and the time axis in the clock's zone.
 */
export function renderLineChart(chart: LineChart): Markup {
  const count = chart.minutes.length;
  const x = (index: number) => margin.left + (count <= 1 ? plotWidth / 2 : (index / (count - 1)) * plotWidth);
  const y = (value: number) => {
    const top = margin.top;
    const bottom = margin.top + plotHeight;
    if (value === Infinity) return top;
    const share =
      chart.y.scale === 'linear'
        ? value / chart.y.max
        : (Math.log10(Math.max(value, chart.y.min)) - Math.log10(chart.y.min)) / (Math.log10(chart.y.max) - Math.log10(chart.y.min));
    return bottom - Math.min(1, Math.max(0, share)) * plotHeight;
  };
  const ticks = chart.minutes.flatMap((start, index) =>
    chart.clock.minuteOfDay(start) % chart.tickEveryMinutes === 0 ? [{ x: x(index), label: chart.clock.minute(start) }] : [],
  );
  const titleId = `${chart.id}-title`;
  const descId = `${chart.id}-desc`;
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="${chart.id}" role="img" aria-labelledby="${titleId}" aria-describedby="${descId}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-size="11">
<title id="${titleId}">${chart.title}</title>
<desc id="${descId}">${chart.description}</desc>
<text x="${margin.left}" y="14" font-weight="bold">${chart.title}</text>
${chart.series.length > 1
  ? chart.series.map(
      (series, index) =>
        html`<rect x="${width - margin.right - 90 + index * 48}" y="6" width="9" height="9" fill="${series.color}"/><text x="${width - margin.right - 78 + index * 48}" y="14">${series.label}</text>`,
    )
  : ''}
<g class="grid" stroke="#ddd">
${chart.yTicks.map((tick) => html`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(tick.value).toFixed(1)}" y2="${y(tick.value).toFixed(1)}"/>`)}
</g>
<g class="y-axis" text-anchor="end" fill="#555">
${chart.yTicks.map((tick) => html`<text x="${margin.left - 4}" y="${(y(tick.value) + 4).toFixed(1)}">${tick.label}</text>`)}
</g>
<g class="x-axis" text-anchor="middle" fill="#555">
<line x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}" stroke="#999"/>
${ticks.map(
  (tick) =>
    html`<line x1="${tick.x.toFixed(1)}" x2="${tick.x.toFixed(1)}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight + 4}" stroke="#999"/><text x="${tick.x.toFixed(1)}" y="${margin.top + plotHeight + 15}">${tick.label}</text>`,
)}
<text x="${margin.left + plotWidth / 2}" y="${height - 3}">time (${chart.clock.zoneLabel})</text>
</g>
${chart.series.map(
  (series) =>
    html`<path class="series" data-series="${series.label}" d="${pathOf(series.values, x, y)}" fill="none" stroke="${series.color}" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>${lonePoints(series.values).map(
      (index) => html`<circle cx="${x(index).toFixed(1)}" cy="${y(series.values[index] as number).toFixed(1)}" r="3" fill="${series.color}"/>`,
    )}`,
)}
</svg>`;
}

/** M where a run of values starts, L within it; a lone value is a zero-length segment. */
function pathOf(values: readonly (number | null)[], x: (index: number) => number, y: (value: number) => number): string {
  const commands: string[] = [];
  values.forEach((value, index) => {
    if (value === null) return;
    const point = `${x(index).toFixed(1)} ${y(value).toFixed(1)}`;
    const startsRun = index === 0 || values[index - 1] === null;
    const endsRun = index === values.length - 1 || values[index + 1] === null;
    commands.push(startsRun ? `M${point}${endsRun ? ' h0' : ''}` : `L${point}`);
  });
  return commands.join(' ');
}

/** Values with no value on either side: a line cannot show them, so they get a dot. */
function lonePoints(values: readonly (number | null)[]): number[] {
  return values.flatMap((value, index) =>
    value !== null && (values[index - 1] ?? null) === null && (values[index + 1] ?? null) === null ? [index] : [],
  );
}

/** The smallest of 1, 2, 2.5, 5 times a power of ten at or above `value`. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((factor) => factor * power >= value * (1 - 1e-9)) ?? 10;
  return step * power;
}
