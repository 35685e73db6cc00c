// PromQL for the charts, and turning range-query answers into panel series.
// Counters are shown per second: at a 1 s step, irate gives the exact value
// of each stored second; at coarser steps, rate over the step averages the
// seconds in between instead of sampling one of them.

import { api, promString, type MatrixSeries } from './api';
import type { Grid, SeriesData } from './chart';

export interface SeriesQuery {
  expr: (step: number) => string;
  label: (metric: Record<string, string>) => string;
  colorKey?: (metric: Record<string, string>) => string;
  dashed?: boolean;
  scale?: number; // multiply every value (seconds to milliseconds: 1000)
  dropAllZero?: boolean; // hide series that are zero over the whole range
}

export function perSecond(selector: string, step: number): string {
  return step <= 1 ? `irate(${selector}[5s])` : `rate(${selector}[${Math.max(2, step)}s])`;
}

export function sel(metric: string, matchers: Record<string, string>, extra = ''): string {
  const parts = Object.entries(matchers).map(([k, v]) => `${k}=${promString(v)}`);
  if (extra) parts.push(extra);
  return `${metric}{${parts.join(',')}}`;
}

export function seriesKey(metric: Record<string, string>): string {
  return Object.keys(metric)
    .sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`)
    .join(',');
}

function toPoints(s: MatrixSeries, scale: number): [number, number | null][] {
  return s.values.map(([t, v]) => {
    const n = Number(v);
    return [Math.round(t * 1000) / 1000, Number.isFinite(n) ? n * scale : null];
  });
}

// loadSeries runs every query of a panel over the grid and returns its series.
export async function loadSeries(queries: SeriesQuery[], grid: Grid, signal?: AbortSignal, shift = 0): Promise<SeriesData[]> {
  const answers = await Promise.all(
    queries.map((q) => api.queryRange(q.expr(grid.step), grid.start + shift, grid.end + shift, grid.step, signal)),
  );
  const out: SeriesData[] = [];
  answers.forEach((ans, qi) => {
    const q = queries[qi];
    for (const s of ans.result) {
      const points = toPoints(s, q.scale ?? 1).map(([t, v]) => [t - shift, v] as [number, number | null]);
      if (q.dropAllZero && points.every(([, v]) => v === null || v === 0)) continue;
      out.push({
        key: `${qi}|${seriesKey(s.metric)}`,
        label: q.label(s.metric),
        colorKey: q.colorKey ? q.colorKey(s.metric) : `${qi}|${seriesKey(s.metric)}`,
        dashed: q.dashed,
        points,
      });
    }
  });
  return out;
}

// containerName is how a container is called in legends: its name, with
// the host when the same name could exist on two hosts.
export function containerLabel(m: Record<string, string>, withHost: boolean): string {
  const name = m.name || m.container || (m.id ? m.id.slice(0, 12) : '?');
  return withHost && m.host ? `${name} @ ${m.host}` : name;
}
