// Table tests of the UI's pure logic: time ranges and URLs, query
// resolution, PromQL construction with untrusted label values, and number
// formatting with units. The TypeScript sources are bundled with esbuild
// into a temporary folder and imported as they ship.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { webDir } from './harness.mjs';

// Times below are written in UTC; the UI shows local time.
process.env.TZ = 'UTC';

let timeline;
let format;
let queries;
let knee;

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'brink-ui-units-'));
  const entries = { timeline: 'src/timeline.ts', format: 'src/format.ts', queries: 'src/queries.ts', knee: 'src/knee.ts' };
  await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, join(webDir, v)])),
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'silent',
  });
  const load = (name) => import(pathToFileURL(join(out, `${name}.js`)).href);
  [timeline, format, queries, knee] = await Promise.all([load('timeline'), load('format'), load('queries'), load('knee')]);
});

test('parseDuration reads the durations a URL may carry', () => {
  const cases = [
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['1h30m', 5400],
    ['2d', 172800],
    ['0.5', 0.5],
    ['', null],
    ['15x', null],
    ['m15', null],
    ['1h junk', null],
  ];
  for (const [text, want] of cases) assert.equal(timeline.parseDuration(text), want, text);
});

test('formatDuration writes the shortest exact unit', () => {
  const cases = [
    [30, '30s'],
    [90, '90s'],
    [900, '15m'],
    [3600, '1h'],
    [5400, '90m'],
    [86400, '1d'],
  ];
  for (const [s, want] of cases) assert.equal(timeline.formatDuration(s), want, String(s));
});

test('parseTime takes Unix seconds or RFC 3339', () => {
  const cases = [
    ['1732470000', 1732470000],
    ['1732470000.5', 1732470000.5],
    ['2024-11-24T17:40:00Z', 1732470000],
    ['yesterday', null],
    [null, null],
  ];
  for (const [text, want] of cases) assert.equal(timeline.parseTime(text), want, String(text));
});

test('viewFromURL: a fixed range, a live window, the page default, and nonsense', () => {
  const now = 1_800_000_000.7;
  const cases = [
    {
      name: 'fixed range with a pinned second',
      search: '?from=1000&to=2000&at=1500',
      want: { live: false, anchored: false, window: 1000, from: 1000, to: 2000, at: 1500 },
    },
    {
      name: 'pinned second outside the range is clamped',
      search: '?from=1000&to=2000&at=5000',
      want: { live: false, anchored: false, window: 1000, from: 1000, to: 2000, at: 2000 },
    },
    { name: 'live window', search: '?live=5m', want: { live: true, anchored: false, window: 300, from: 1_799_999_700, to: 1_800_000_000, at: null } },
    {
      name: 'live from a fixed start',
      search: '?from=1799999000&to=now',
      want: { live: true, anchored: true, window: 1000, from: 1_799_999_000, to: 1_800_000_000, at: null },
    },
    {
      name: 'to before from falls back to the default',
      search: '?from=2000&to=1000',
      want: { live: true, anchored: false, window: 900, from: 1_799_999_100, to: 1_800_000_000, at: null },
    },
    {
      name: 'bad live falls back to the default',
      search: '?live=soon',
      want: { live: true, anchored: false, window: 900, from: 1_799_999_100, to: 1_800_000_000, at: null },
    },
    {
      name: "a finished run's range as the page default",
      search: '',
      fallback: { live: false, from: 100, to: 160 },
      want: { live: false, anchored: false, window: 60, from: 100, to: 160, at: null },
    },
    {
      name: "a running run's start as the page default",
      search: '',
      fallback: { live: true, from: 1_799_999_985, to: now },
      want: { live: true, anchored: true, window: 15, from: 1_799_999_985, to: 1_800_000_000, at: null },
    },
    {
      name: 'the URL wins over the page default',
      search: '?from=10&to=20',
      fallback: { live: false, from: 100, to: 160 },
      want: { live: false, anchored: false, window: 10, from: 10, to: 20, at: null },
    },
  ];
  for (const c of cases) assert.deepEqual(timeline.viewFromURL(c.search, now, c.fallback), c.want, c.name);
});

test('viewParams writes a view back and keeps the other parameters', () => {
  const base = new URLSearchParams('service=web&live=1h&at=7');
  const cases = [
    { view: { live: true, anchored: false, window: 300, from: 0, to: 300, at: null }, want: 'service=web&live=5m' },
    { view: { live: false, anchored: false, window: 10, from: 100.4, to: 110.2, at: 105 }, want: 'service=web&from=100&to=111&at=105' },
    { view: { live: false, anchored: false, window: 10, from: 100, to: 110, at: null }, want: 'service=web&from=100&to=110' },
    { view: { live: true, anchored: true, window: 10, from: 100, to: 110, at: null }, want: 'service=web&from=100&to=now' },
  ];
  for (const c of cases) assert.equal(timeline.viewParams(c.view, base).toString(), c.want);
  const round = timeline.viewFromURL(`?${timeline.viewParams(cases[1].view, base)}`, 0);
  assert.deepEqual([round.from, round.to, round.at], [100, 111, 105]);
});

test('stepFor keeps every second up to 20 minutes and at most ~1,200 points beyond', () => {
  const cases = [
    [60, 1],
    [1200, 1],
    [1201, 2],
    [3600, 5],
    [6 * 3600, 30],
    [24 * 3600, 120],
    [7 * 86400, 600],
    [400 * 86400, 3600],
  ];
  for (const [span, want] of cases) assert.equal(timeline.stepFor(1000, 1000 + span), want, `${span} s`);
});

test('alignedStart puts every query of a step on the same grid', () => {
  const cases = [
    [1001, 1, 1001],
    [1001, 5, 1005],
    [1005, 5, 1005],
    [1001.5, 1, 1002],
  ];
  for (const [from, step, want] of cases) assert.equal(timeline.alignedStart(from, step), want, `${from}/${step}`);
});

test('selectors quote untrusted label values as PromQL strings', () => {
  const cases = [
    [{ service: 'web' }, '', 'm{service="web"}'],
    [{ service: 'a"b' }, '', 'm{service="a\\"b"}'],
    [{ service: 'back\\slash' }, '', 'm{service="back\\\\slash"}'],
    [{ service: 'line\nbreak' }, 'name!=""', 'm{service="line\\nbreak",name!=""}'],
    [{ service: '<img src=x onerror=window.__xss=1>', run: 'r-1' }, '', 'm{service="<img src=x onerror=window.__xss=1>",run="r-1"}'],
  ];
  for (const [matchers, extra, want] of cases) assert.equal(queries.sel('m', matchers, extra), want);
});

test('per-second windows: exact at 1 s, averaged over the step beyond', () => {
  const cases = [
    [queries.perSecond, 1, 'irate(x[3s])'],
    [queries.perSecond, 10, 'rate(x[10s])'],
    [queries.perRunSecond, 1, 'irate(x[2s])'],
    [queries.perRunSecond, 2, 'rate(x[2s])'],
    [queries.perRunSecond, 60, 'rate(x[60s])'],
  ];
  for (const [fn, step, want] of cases) assert.equal(fn('x', step), want);
});

test('seriesKey is independent of label order', () => {
  assert.equal(queries.seriesKey({ b: '2', a: '1' }), queries.seriesKey({ a: '1', b: '2' }));
  assert.notEqual(queries.seriesKey({ a: '1,b="2"' }), queries.seriesKey({ a: '1', b: '2' }));
});

test('containerLabel adds the host only when the chart spans several hosts', () => {
  const cases = [
    [{ name: 'web-1', host: 'h1' }, 1, 'web-1'],
    [{ name: 'web-1', host: 'h1' }, 2, 'web-1 @ h1'],
    [{ container: 'c', host: 'h1' }, 1, 'c'],
    [{ id: '/docker/0123456789abcdef' }, 1, '0123456789ab'],
    [{ id: '/system.slice/cron.service' }, 1, 'cron.service'],
  ];
  for (const [m, hosts, want] of cases) assert.equal(queries.containerLabel(m, hosts), want);
});

test('numbers carry their unit and the precision of the stored value', () => {
  const f = format;
  const cases = [
    [f.fmtCores(0.49961), '0.4996 cores'],
    [f.fmtCores(null), '–'],
    [f.fmtBytes(268435456), '256.00 MiB'],
    [f.fmtBytes(25769803776), '24.000 GiB'],
    [f.fmtBytes(1536), '1.50 KiB'],
    [f.fmtBytes(512), '512 B'],
    [f.fmtBytesRate(1048576), '1.00 MiB/s'],
    [f.fmtRps(1860), '1,860 req/s'],
    [f.fmtRps(1400.456), '1,400.46 req/s'],
    [f.fmtMs(2.3456), '2.346 ms'],
    [f.fmtUs(1103), '1.103 ms'],
    [f.fmtPct(0.82), '82.00 %'],
    [f.fmtPct(0.0000286, 3), '0.003 %'],
    [f.fmtCount(420000), '420,000'],
    [f.fmtPerSec(3), '3/s'],
    [f.fmtUnit(Number.NaN, 'cores'), '–'],
    [f.fmtUnit(Number.POSITIVE_INFINITY, 'ms'), '–'],
    [f.fmtDuration(3725), '1h02m05s'],
    [f.fmtDuration(65), '1m05s'],
    [f.fmtDuration(9), '9s'],
    [f.fmtRelative(65), '+1:05'],
    [f.fmtRelative(-5), '−0:05'],
    [f.fmtTime(1732470000000), '2024-11-24 17:40:00'],
    [f.fmtAxisTime(1732470005, 1), '17:40:05'],
    [f.fmtAxisTime(1732470005, 60), '17:40'],
    [f.fmtAxisTime(1732470005, 86400), '11-24'],
    [f.axisTick(268435456, 'bytes'), '256 MiB'],
    [f.axisTick(0.5, 'ratio'), '50%'],
    [f.axisTick(25000, 'req/s'), '25k'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test('withTotal sums the solid series point by point and leaves limits out', () => {
  const s = (key, points, dashed = false) => ({ key, label: key, colorKey: key, dashed, points });
  const total = { label: 'sum', colorKey: '~sum', minSeries: 2 };
  const cases = [
    {
      name: 'two series and a limit',
      series: [s('a', [[1, 1], [2, 2], [3, null]]), s('b', [[1, 0.5], [2, null], [3, null]]), s('lim', [[1, 9], [2, 9], [3, 9]], true)],
      want: [[1, 1.5], [2, 2], [3, null]],
    },
    { name: 'fewer series than minSeries', series: [s('a', [[1, 1]])], want: null },
  ];
  for (const c of cases) {
    const out = queries.withTotal(c.series, total);
    if (c.want === null) {
      assert.equal(out.length, c.series.length, c.name);
      continue;
    }
    assert.equal(out.length, c.series.length + 1, c.name);
    assert.deepEqual(out[0].points, c.want, c.name);
    assert.equal(out[0].label, 'sum');
  }
  assert.equal(queries.withTotal([s('a', [[1, 1]])], undefined).length, 1);
});

test('the knee is written in its own units and marked where the store puts its second', () => {
  const k = { unix: 1732470024, t: 8, offered: 232.402, offered_unit: 'iterations/s', throughput_rps: 219, cause: 'latency', signals: [] };
  const analysis = { knee: k, headline: 'knee at 232 iterations/s (...): target web-1 CPU at 0.50 of 0.50 cores' };
  const cases = [
    [knee.fmtOffered(232.402, 'iterations/s'), '232 iterations/s'],
    [knee.fmtOffered(1380.6, 'iterations/s', true), '1,381 it/s'],
    [knee.fmtOffered(42.25, 'VUs', true), '42.3 VUs'],
    [knee.fmtOffered(null, 'VUs'), '–'],
    [knee.kneeLabel(k), 'knee 232 it/s'],
    [knee.kneeLabel(k, 'A '), 'A knee 232 it/s'],
    [knee.kneeX(k), 1732470025],
    [knee.kneeEventLabel({ fields: { offered: '232.402', offered_unit: 'iterations/s' } }), 'knee 232 it/s'],
    [knee.kneeEventLabel({ fields: null }), 'knee'],
    [knee.kneeEventLabel({ fields: { offered: 'junk' } }), 'knee'],
    [knee.signalName('throughput'), 'throughput stopped rising'],
    [knee.signalName('errors'), 'errors began'],
    [knee.signalValue({ kind: 'throughput' }, 235), '235 req/s'],
    [knee.signalValue({ kind: 'latency' }, 28.367), '28.367 ms'],
    [knee.signalValue({ kind: 'errors' }, 0.0125), '1.25 %'],
    [knee.resourceName('target_cpu'), 'target CPU'],
    [knee.resourceName('generator_vus'), 'load generator VU pool'],
    [knee.findingFigure({ resource: 'target_cpu' }, 0.50261), '0.5026 cores'],
    [knee.findingFigure({ resource: 'target_cpu' }, 0), '0.0000 cores'],
    [knee.findingFigure({ resource: 'target_cpu' }, 0, true), '–'],
    [knee.findingFigure({ resource: 'target_memory' }, 268435456, true), '256.00 MiB'],
    [knee.findingFigure({ resource: 'generator_vus' }, 2.875), '2.88 dropped/s'],
    [knee.findingFigure({ resource: 'generator_jitter' }, 12.5), '12.5 ms'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
  assert.deepEqual(knee.kneeMarker(analysis), { t: 1732470025, kind: 'knee', text: 'knee 232 it/s', title: analysis.headline, color: undefined });
  // On the compare view's relative axis: seconds since the run's start.
  assert.equal(knee.kneeMarker(analysis, { shift: 1732470016, prefix: 'B ', color: '#ffb020' }).t, 9);
  assert.equal(knee.kneeMarker({ knee: null, headline: 'no knee' }), null);
  assert.equal(knee.kneeMarker(null), null);
});
