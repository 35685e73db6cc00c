// Number formatting with explicit units. Precision is chosen so that the
// figure a person reads is the stored value to the shown unit (cores to
// 1/10000, memory to 1/100 MiB, latency to 1 µs), never a rounded headline.

export type Unit =
  | 'cores'
  | 'bytes'
  | 'bytes/s'
  | 'req/s'
  | 'ms'
  | 'ratio'
  | 'count'
  | 'per/s';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export function isNum(v: number | null | undefined): v is number {
  return v !== null && v !== undefined && Number.isFinite(v);
}

const dash = '–';

function fixed(v: number, digits: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function trimmed(v: number, maxDigits: number): string {
  return v.toLocaleString('en-US', { maximumFractionDigits: maxDigits });
}

export function fmtCores(v: number | null | undefined): string {
  return isNum(v) ? `${fixed(v, 4)} cores` : dash;
}

export function fmtBytes(v: number | null | undefined): string {
  if (!isNum(v)) return dash;
  const a = Math.abs(v);
  if (a >= GiB) return `${fixed(v / GiB, 3)} GiB`;
  if (a >= MiB) return `${fixed(v / MiB, 2)} MiB`;
  if (a >= KiB) return `${fixed(v / KiB, 2)} KiB`;
  return `${trimmed(v, 0)} B`;
}

export function fmtBytesRate(v: number | null | undefined): string {
  return isNum(v) ? `${fmtBytes(v)}/s` : dash;
}

export function fmtRps(v: number | null | undefined): string {
  return isNum(v) ? `${trimmed(v, 2)} req/s` : dash;
}

export function fmtPerSec(v: number | null | undefined): string {
  return isNum(v) ? `${trimmed(v, 2)}/s` : dash;
}

export function fmtMs(v: number | null | undefined): string {
  if (!isNum(v)) return dash;
  return `${trimmed(v, 3)} ms`;
}

export function fmtUs(us: number | null | undefined): string {
  return isNum(us) ? fmtMs(us / 1000) : dash;
}

export function fmtPct(ratio: number | null | undefined, digits = 2): string {
  return isNum(ratio) ? `${fixed(ratio * 100, digits)} %` : dash;
}

export function fmtCount(v: number | null | undefined): string {
  return isNum(v) ? trimmed(v, 3) : dash;
}

export function fmtUnit(v: number | null | undefined, unit: Unit): string {
  switch (unit) {
    case 'cores':
      return fmtCores(v);
    case 'bytes':
      return fmtBytes(v);
    case 'bytes/s':
      return fmtBytesRate(v);
    case 'req/s':
      return fmtRps(v);
    case 'ms':
      return fmtMs(v);
    case 'ratio':
      return fmtPct(v);
    case 'per/s':
      return fmtPerSec(v);
    case 'count':
      return fmtCount(v);
  }
}

// axisTick is the short form on chart axes, where space is scarce.
export function axisTick(v: number, unit: Unit): string {
  switch (unit) {
    case 'bytes':
    case 'bytes/s': {
      const a = Math.abs(v);
      const suffix = unit === 'bytes/s' ? '/s' : '';
      if (a >= GiB) return `${trimmed(v / GiB, 2)} GiB${suffix}`;
      if (a >= MiB) return `${trimmed(v / MiB, 1)} MiB${suffix}`;
      if (a >= KiB) return `${trimmed(v / KiB, 1)} KiB${suffix}`;
      return `${trimmed(v, a < 10 ? 2 : 0)} B${suffix}`;
    }
    case 'ratio':
      return `${trimmed(v * 100, 1)}%`;
    case 'ms':
      return `${trimmed(v, 2)} ms`;
    case 'cores':
      return trimmed(v, 3);
    default:
      return Math.abs(v) >= 10000 ? `${trimmed(v / 1000, 1)}k` : trimmed(v, 2);
  }
}

export function unitLabel(unit: Unit): string {
  switch (unit) {
    case 'ratio':
      return '%';
    case 'count':
      return '';
    case 'per/s':
      return '/s';
    default:
      return unit;
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

// fmtTime shows a local wall-clock instant to the second (the store's
// resolution) with the date, so a shared link reads unambiguously.
export function fmtTime(ms: number | null | undefined): string {
  if (!isNum(ms)) return dash;
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}

// fmtAxisTime labels a time axis tick (Unix seconds) with as much as the
// tick spacing needs: seconds when ticks are seconds apart, the date when
// they are days apart. 24-hour clock, local time.
export function fmtAxisTime(seconds: number, incrSeconds: number): string {
  const d = new Date(seconds * 1000);
  if (incrSeconds >= 86400) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (incrSeconds >= 60) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtClock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (!isNum(seconds)) return dash;
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (hh > 0) return `${hh}h${pad(mm)}m${pad(ss)}s`;
  if (mm > 0) return `${mm}m${pad(ss)}s`;
  return `${ss}s`;
}

// fmtRelative formats seconds since a run's start as +m:ss for the compare view.
export function fmtRelative(seconds: number): string {
  const sign = seconds < 0 ? '−' : '+';
  const s = Math.abs(Math.round(seconds));
  return `${sign}${Math.floor(s / 60)}:${pad(s % 60)}`;
}
