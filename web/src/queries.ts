// PromQL for the charts, and turning range-query answers into panel series.
// Counters are shown per second: at a 1 s step, irate gives the exact value
// of each stored second; at coarser steps, rate over the step averages the
// seconds in between instead of sampling one of them.

import { api, promString, type MatrixSeries } from './api';
import type { Grid, SeriesData } from './chart';

export interface SeriesQuery {
  expr: (step: number) => string;
  // label names a series; hosts is how many distinct hosts the panel's
  // answer spans, so container legends add the host only when it helps.
  label: (metric: Record<string, string>, hosts: number) => string;
  colorKey?: (metric: Record<string, string>) => string;
  dashed?: boolean;
  scale?: number; // multiply every value (seconds to milliseconds: 1000)
  dropAllZero?: boolean; // hide series that are zero over the whole range
  lookback?: string; // PromQL lookback for instant selectors (default 5s)
}

// Monitors sample every second on the wall clock, but a tick can come late
// on a busy host: a 3 s window bridges one missing tick.
export function perSecond(selector: string, step: number): string {
  return step <= 1 ? `irate(${selector}[3s])` : `rate(${selector}[${Math.max(2, step)}s])`;
}

// Load results are stored at every whole second of a run, so a 2 s window
// holds exactly the two samples that bound one second, and there is no
// value after the run's last second (a wider window would repeat it).
export function perRunSecond(selector: string, step: number): string {
  return step <= 1 ? `irate(${selector}[2s])` : `rate(${selector}[${Math.max(2, step)}s])`;
}

// runGaugeLookback keeps a run's gauges (VUs, per-second percentiles) from
// being carried past its last second by PromQL's lookback.
export const runGaugeLookback = '1s';

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
    queries.map((q) => api.queryRange(q.expr(grid.step), grid.start + shift, grid.end + shift, grid.step, q.lookback ?? '5s', signal)),
  );
  const out: SeriesData[] = [];
  const hostSet = new Set<string>();
  for (const ans of answers) for (const s of ans.result) if (s.metric.host) hostSet.add(s.metric.host);
  answers.forEach((ans, qi) => {
    const q = queries[qi];
    for (const s of ans.result) {
      const points = toPoints(s, q.scale ?? 1).map(([t, v]) => [t - shift, v] as [number, number | null]);
      if (q.dropAllZero && points.every(([, v]) => v === null || v === 0)) continue;
      out.push({
        key: `${qi}|${seriesKey(s.metric)}`,
        label: q.label(s.metric, hostSet.size),
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
export function containerLabel(m: Record<string, string>, hosts: number): string {
  const withHost = hosts > 1;
  const name = m.name || m.container || (m.id ? shortId(m.id) : '?');
  return withHost && m.host ? `${name} @ ${m.host}` : name;
}

// shortId is a container id as Docker prints it: the last element of a
// cgroup path (/docker/<id>), 12 characters long.
export function shortId(id: string): string {
  return (id.split('/').pop() ?? id).slice(0, 12);
}

export interface Total {
  label: string;
  colorKey: string;
  minSeries: number;
}

// withTotal adds the pointwise sum of the solid series (a null point adds
// nothing; a second where every series is null stays null).
export function withTotal(series: SeriesData[], total: Total | undefined): SeriesData[] {
  if (!total) return series;
  const parts = series.filter((s) => !s.dashed);
  if (parts.length < total.minSeries) return series;
  const sums = new Map<number, number | null>();
  for (const s of parts) {
    for (const [x, v] of s.points) {
      const prev = sums.get(x) ?? null;
      sums.set(x, v === null ? prev : (prev ?? 0) + v);
    }
  }
  const points = [...sums.entries()].sort((a, b) => a[0] - b[0]);
  return [{ key: `total|${total.colorKey}`, label: total.label, colorKey: total.colorKey, points }, ...series];
}
