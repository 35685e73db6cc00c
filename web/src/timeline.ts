// The timeline is the one time axis every chart and table on a page shares:
// a live window that follows the hub's clock, a live range that grows from a
// fixed start (a running test run), or a fixed [from, to] range, plus an
// optional pinned instant ("at") that the tables show and the charts mark.
// It lives in the URL (?live=15m, ?from=&to=now, or ?from=&to=&at= in Unix
// seconds) so any view can be shared or bookmarked.

export interface TimeView {
  live: boolean;
  // anchored: a live view whose start stays put while its end follows the
  // hub's clock (?from=&to=now), so it keeps a whole running test in view.
  anchored: boolean;
  // window is the view's length in seconds.
  window: number;
  // from and to are Unix seconds; in a live view they follow the hub's clock.
  from: number;
  to: number;
  // at is the pinned instant in Unix seconds, or null when nothing is pinned.
  at: number | null;
}

export const defaultWindow = 15 * 60;

const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

// parseDuration reads 90, 90s, 15m, 1h30m, 2d into seconds.
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)([smhd])/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  return consumed === t.length && consumed > 0 ? total : null;
}

export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

// parseTime reads Unix seconds (as the API takes them) or an RFC 3339 date.
export function parseTime(text: string | null): number | null {
  if (!text) return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms / 1000;
}

export interface DefaultRange {
  from: number;
  to: number;
  live: boolean; // live from `from` on (anchored), else the fixed range
}

export function viewFromURL(search: string, nowSeconds: number, fallback?: DefaultRange): TimeView {
  const q = new URLSearchParams(search);
  const from = parseTime(q.get('from'));
  const to = parseTime(q.get('to'));
  const at = parseTime(q.get('at'));
  if (from !== null && q.get('to') === 'now' && from < nowSeconds) return anchoredView(from, nowSeconds);
  if (from !== null && to !== null && to > from) {
    return { live: false, anchored: false, window: Math.round(to - from), from, to, at: clampAt(at, from, to) };
  }
  const liveText = q.get('live');
  const window = (liveText && parseDuration(liveText)) || null;
  if (window) return liveView(window, nowSeconds);
  if (fallback) {
    if (fallback.live) return anchoredView(fallback.from, nowSeconds);
    return { live: false, anchored: false, window: fallback.to - fallback.from, from: fallback.from, to: fallback.to, at: null };
  }
  return liveView(defaultWindow, nowSeconds);
}

export function liveView(window: number, nowSeconds: number): TimeView {
  const to = Math.floor(nowSeconds);
  return { live: true, anchored: false, window: Math.max(10, Math.round(window)), from: to - Math.round(window), to, at: null };
}

export function anchoredView(from: number, nowSeconds: number): TimeView {
  const to = Math.floor(nowSeconds);
  const start = Math.floor(Math.min(from, to - 10));
  return { live: true, anchored: true, window: to - start, from: start, to, at: null };
}

function clampAt(at: number | null, from: number, to: number): number | null {
  if (at === null) return null;
  return Math.min(Math.max(at, from), to);
}

// viewParams writes a view back into URL parameters, keeping the others.
export function viewParams(view: TimeView, base: URLSearchParams): URLSearchParams {
  const q = new URLSearchParams(base);
  q.delete('from');
  q.delete('to');
  q.delete('at');
  q.delete('live');
  if (view.live && view.anchored) {
    q.set('from', String(Math.floor(view.from)));
    q.set('to', 'now');
  } else if (view.live) {
    q.set('live', formatDuration(view.window));
  } else {
    q.set('from', String(Math.floor(view.from)));
    q.set('to', String(Math.ceil(view.to)));
    if (view.at !== null) q.set('at', String(Math.round(view.at)));
  }
  return q;
}

// stepFor picks the query resolution: one point per second while that keeps
// a chart under ~1,200 points, coarser beyond (zoom in to see every second).
export function stepFor(from: number, to: number): number {
  const span = Math.max(1, to - from);
  const raw = Math.ceil(span / 1200);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => s >= raw) ?? 3600;
}

// alignedStart is the first step boundary at or after from, so that
// successive (incremental) range queries land on the same timestamps.
export function alignedStart(from: number, step: number): number {
  return Math.ceil(from / step) * step;
}
