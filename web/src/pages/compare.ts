// Compare: two runs overlaid on relative time (t = 0 at each run's start),
// with their whole-run figures side by side and the ratio between them —
// the seed's "1 instance 1400 TPS → 2 instances 1860 TPS" as one screen.

import { api, type Run, type RunAnalysis } from '../api';
import type { PageContext, Page } from '../app';
import { Panel, type Grid, type SeriesData } from '../chart';
import { h, replace } from '../dom';
import { fmtCount, fmtDuration, fmtMs, fmtPct, fmtRelative, fmtRps, fmtTime, type Unit } from '../format';
import { describe } from '../panels';
import { loadSeries, perRunSecond, perSecond, runGaugeLookback, sel, type SeriesQuery } from '../queries';
import { stepFor } from '../timeline';
import { fmtOffered, kneeMarker, resourceName, signalName } from '../knee';
import { errorBox, runHref, section, statusBadge } from './common';

interface CompareDef {
  id: string;
  title: string;
  unit: Unit;
  height?: number;
  // service is the run's target service, or the one chosen with ?service=
  // for runs that named none ('' when neither).
  query: (run: Run, service: string) => SeriesQuery | null;
  limit?: (run: Run, service: string) => SeriesQuery | null;
  service?: boolean; // the panel shows the run's target service
}

const svcSel = (service: string, metric: string) => sel(metric, { service }, 'name!=""');

const defs: CompareDef[] = [
  { id: 'rps', title: 'Throughput', unit: 'req/s', query: (r) => ({ expr: (s) => `sum(${perRunSecond(sel('brink_requests_total', { run: r.id }), s)})`, label: () => '' }) },
  {
    id: 'p95',
    title: 'Latency p95 per second',
    unit: 'ms',
    query: (r) => ({ expr: (s) => latencyExpr(r, '0.95', s), label: () => '', scale: 1000, lookback: runGaugeLookback }),
  },
  {
    id: 'p99',
    title: 'Latency p99 per second',
    unit: 'ms',
    query: (r) => ({ expr: (s) => latencyExpr(r, '0.99', s), label: () => '', scale: 1000, lookback: runGaugeLookback }),
  },
  { id: 'failures', title: 'Failures', unit: 'per/s', height: 120, query: (r) => ({ expr: (s) => `sum(${perRunSecond(sel('brink_failures_total', { run: r.id }), s)})`, label: () => '' }) },
  { id: 'vus', title: 'Virtual users', unit: 'count', height: 110, query: (r) => ({ expr: () => `sum(${sel('brink_vus', { run: r.id })})`, label: () => '', lookback: runGaugeLookback }) },
  {
    id: 'service-cpu',
    service: true,
    title: 'Target service CPU (sum of replicas) against limit',
    unit: 'cores',
    query: (_r, svc) => (svc ? { expr: (s) => `sum(${perSecond(svcSel(svc, 'container_cpu_usage_seconds_total'), s)})`, label: () => '' } : null),
    limit: (_r, svc) =>
      svc
        ? { expr: () => `sum(${svcSel(svc, 'container_spec_cpu_quota')} / ${svcSel(svc, 'container_spec_cpu_period')} > 0)`, label: () => '', dashed: true }
        : null,
  },
  {
    id: 'replicas',
    service: true,
    title: 'Target service replicas',
    unit: 'count',
    height: 100,
    query: (_r, svc) => (svc ? { expr: () => `count(${svcSel(svc, 'container_memory_working_set_bytes')})`, label: () => '' } : null),
  },
];

const slotColor = { A: '#4fa3ff', B: '#ffb020' } as const;

function latencyExpr(r: Run, q: string, step: number): string {
  const g = sel('brink_run_latency_seconds', { run: r.id, quantile: q });
  return step <= 1 ? `max(${g})` : `max(max_over_time(${g}[${step}s]))`;
}

function runSpan(r: Run): number {
  return ((r.ended_ms ?? r.last_second_ms ?? r.started_ms) - r.started_ms) / 1000;
}

export function comparePage(ctx: PageContext): Page {
  const { app, root } = ctx;
  const pickA = h('select', { 'aria-label': 'run A' });
  const pickB = h('select', { 'aria-label': 'run B' });
  const resetBtn = h('button', { class: 'btn', type: 'button', hidden: true }, 'reset zoom');
  const body = h('div');
  replace(root, h('div', { class: 'toolbar' }, h('h1', null, 'Compare'), h('span', { class: 'ab a' }, 'A'), pickA, h('span', { class: 'ab b' }, 'B'), pickB, resetBtn), body);

  let panels: Panel[] = [];
  let zoom: { from: number; to: number } | null = null;
  let pinned: number | null = null;
  let runs: [Run, Run] | null = null;
  // Each run's saturation analysis (null: none could be computed).
  let analyses: [RunAnalysis | null, RunAnalysis | null] = [null, null];
  let abort: AbortController | null = null;
  const serviceOf = (r: Run) => r.target_service || (app.currentQuery().get('service') ?? '');

  async function fillPickers(): Promise<void> {
    try {
      const list = await api.runs({ limit: 200 });
      const q = app.currentQuery();
      const opts = (sel: HTMLSelectElement, current: string) => {
        const ids = new Set(list.runs.map((r) => r.id));
        replace(
          sel,
          h('option', { value: '' }, 'choose a run'),
          current && !ids.has(current) ? h('option', { value: current }, current) : null,
          list.runs.map((r) => h('option', { value: r.id }, `${r.name || r.id} — ${fmtTime(r.started_ms)} (${r.id})`)),
        );
        sel.value = current;
      };
      opts(pickA, q.get('a') ?? '');
      opts(pickB, q.get('b') ?? '');
    } catch (err) {
      replace(body, errorBox(describe(err)));
    }
  }

  function choose(): void {
    const q = app.currentQuery();
    q.set('a', pickA.value);
    q.set('b', pickB.value);
    app.setQuery(q, true);
    void load();
  }
  pickA.addEventListener('change', choose);
  pickB.addEventListener('change', choose);
  resetBtn.addEventListener('click', () => {
    zoom = null;
    void draw();
  });

  async function load(): Promise<void> {
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    const q = app.currentQuery();
    const a = q.get('a');
    const b = q.get('b');
    zoom = null;
    pinned = null;
    if (!a || !b) {
      runs = null;
      destroyPanels();
      replace(body, h('p', { class: 'empty-note' }, 'Choose two runs (or tick two on the Runs page). Both are drawn from their own start, t = 0.'));
      return;
    }
    try {
      const [ra, rb] = await Promise.all([api.run(a, ac.signal), api.run(b, ac.signal)]);
      if (ac.signal.aborted) return;
      runs = [ra, rb];
      // A run's knee does not depend on the service looked at; its limit
      // does, so a run that named none is analyzed against the chosen one.
      const analysisOf = (r: Run) =>
        api.analysis(r.id, { service: r.target_service ? undefined : serviceOf(r) || undefined }, ac.signal).catch((err) => {
          if (!ac.signal.aborted) console.warn(`saturation analysis of run ${r.id}: ${describe(err)}`);
          return null;
        });
      analyses = [await analysisOf(ra), await analysisOf(rb)];
      if (ac.signal.aborted) return;
      build();
      await draw();
    } catch (err) {
      if (!ac.signal.aborted) replace(body, errorBox(describe(err)));
    }
  }

  function destroyPanels(): void {
    for (const p of panels) p.destroy();
    panels = [];
  }

  function build(): void {
    if (!runs) return;
    destroyPanels();
    panels = defs.map(
      (d) =>
        new Panel({
          id: d.id,
          title: d.title,
          unit: d.unit,
          height: d.height,
          relative: true,
          syncKey: 'compare',
          empty: d.service && !serviceOf(runs![0]) && !serviceOf(runs![1]) ? 'neither run names a target service: add ?service=NAME to the URL' : 'no data for either run',
          onSelectRange: (from, to) => {
            zoom = { from, to: Math.max(to, from + 2) };
            void draw();
          },
          onPin: (x) => {
            pinned = x;
            for (const p of panels) p.setPinned(x);
          },
        }),
    );
    replace(body, summary(runs[0], runs[1], app.currentQuery().get('service') ?? '', analyses), h('div', { class: 'panels stack' }, panels.map((p) => p.el)));
  }

  async function draw(): Promise<void> {
    if (!runs) return;
    const signal = abort?.signal;
    const span = Math.max(10, ...runs.map(runSpan)) + 5;
    const from = zoom ? Math.max(0, zoom.from) : 0;
    const to = zoom ? zoom.to : Math.ceil(span);
    const step = stepFor(from, to);
    const grid: Grid = { start: Math.ceil(from / step) * step, end: Math.floor(to / step) * step, step };
    resetBtn.hidden = zoom === null;
    await Promise.all(
      panels.map(async (p, i) => {
        const d = defs[i];
        try {
          const all: SeriesData[] = [];
          for (const [slot, run] of [['A', runs![0]], ['B', runs![1]]] as const) {
            const shift = Math.floor(run.started_ms / 1000);
            const qs: { q: SeriesQuery; label: string }[] = [];
            const main = d.query(run, serviceOf(run));
            if (main) qs.push({ q: main, label: `${slot}: ${run.name || run.id}` });
            const lim = d.limit?.(run, serviceOf(run));
            if (lim) qs.push({ q: lim, label: `${slot}: limit` });
            if (qs.length === 0) continue;
            const series = await loadSeries(qs.map((x) => x.q), grid, signal, shift);
            series.forEach((s, k) => {
              const which = Number(s.key.split('|')[0]);
              all.push({ ...s, key: `${slot}|${k}|${s.key}`, label: qs[which].label, colorKey: slot, color: slotColor[slot] });
            });
          }
          if (signal?.aborted) return;
          p.setSeries(all, grid);
          p.setPinned(pinned);
          p.setMarkers(
            runs!.flatMap((r, k) => {
              const slot = k === 0 ? 'A' : 'B';
              const end = runSpan(r);
              const knee = kneeMarker(analyses[k], { shift: Math.floor(r.started_ms / 1000), prefix: `${slot} `, color: slotColor[slot] });
              return [...(end > 0 ? [{ t: end, kind: 'run_finished', text: `${slot} end` }] : []), ...(knee ? [knee] : [])];
            }),
          );
        } catch (err) {
          if (!signal?.aborted) p.setStatus(describe(err), true);
        }
      }),
    );
  }

  void fillPickers().then(() => load());

  return {
    destroy() {
      abort?.abort();
      destroyPanels();
    },
    onQuery() {
      void fillPickers().then(() => load());
    },
  };
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || a === 0) return '–';
  return `×${(b / a).toFixed(3)}`;
}

function summary(a: Run, b: Run, chosenService: string, analyses: [RunAnalysis | null, RunAnalysis | null]): HTMLElement {
  // A row: its name, how a run's value reads, the number behind it for
  // the B / A ratio (null: no ratio), and its id for a reader's tools.
  type Row = [string, (r: Run) => string, ((r: Run) => number | null | undefined) | null, string?];
  const lat = (k: 'p50' | 'p90' | 'p95' | 'p99' | 'p99_9' | 'max' | 'mean') => (r: Run) => r.totals?.latency_ms?.[k];
  const an = (r: Run) => analyses[r === a ? 0 : 1];
  const knee = (r: Run) => an(r)?.knee ?? null;
  // kneeCell shows a figure of the run's knee, or why there is none.
  const kneeCell = (show: (k: NonNullable<RunAnalysis['knee']>) => string) => (r: Run) => {
    const k = knee(r);
    if (k) return show(k);
    return an(r) ? 'no knee' : '–';
  };
  const limitOf = (r: Run) => {
    const l = an(r)?.limit;
    return l ? resourceName(l.resource) + (l.entity ? ` ${l.entity}` : '') : '–';
  };
  const rows: Row[] = [
    ['target service', (r) => r.target_service || (chosenService ? `${chosenService} (chosen)` : '–'), null],
    ['started', (r) => fmtTime(r.started_ms), null],
    ['duration', (r) => fmtDuration(runSpan(r)), runSpan],
    ['requests', (r) => fmtCount(r.totals?.requests), (r) => r.totals?.requests],
    ['mean rate', (r) => fmtRps(r.totals?.rps), (r) => r.totals?.rps],
    ['failures', (r) => fmtCount(r.totals?.failures), (r) => r.totals?.failures],
    ['error rate', (r) => fmtPct(r.totals?.error_rate, 3), (r) => r.totals?.error_rate],
    ['latency mean', (r) => fmtMs(lat('mean')(r)), lat('mean')],
    ['latency p50', (r) => fmtMs(lat('p50')(r)), lat('p50')],
    ['latency p90', (r) => fmtMs(lat('p90')(r)), lat('p90')],
    ['latency p95', (r) => fmtMs(lat('p95')(r)), lat('p95')],
    ['latency p99', (r) => fmtMs(lat('p99')(r)), lat('p99')],
    ['latency p99.9', (r) => fmtMs(lat('p99_9')(r)), lat('p99_9')],
    ['latency max', (r) => fmtMs(lat('max')(r)), lat('max')],
    ['max sustained (good)', (r) => fmtRps(an(r)?.max_sustained_rps), (r) => an(r)?.max_sustained_rps, 'max-sustained'],
    ['knee (offered load)', kneeCell((k) => fmtOffered(k.offered, k.offered_unit)), (r) => knee(r)?.offered, 'knee'],
    ['knee at (since start)', kneeCell((k) => fmtRelative(k.t)), null, 'knee-at'],
    ['good req/s at the knee', kneeCell((k) => fmtRps(k.throughput_rps)), (r) => knee(r)?.throughput_rps, 'knee-rps'],
    ['first sign', kneeCell((k) => signalName(k.cause)), null, 'knee-sign'],
    ['limiting resource', limitOf, null, 'limit'],
  ];
  const headline = (r: Run, slot: 'a' | 'b') => {
    const x = an(r);
    return h('p', { class: 'small', data: { headline: slot } }, h('span', { class: `ab ${slot}` }, slot.toUpperCase()), ' ', x ? x.headline : 'no saturation analysis could be computed');
  };
  return section(
    'Whole-run figures',
    h(
      'table',
      { class: 'data compare-summary', data: { table: 'compare' } },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, ''),
          h('th', { class: 'num' }, h('span', { class: 'ab a' }, 'A'), ' ', h('a', { href: runHref(a.id) }, a.name || a.id), ' ', statusBadge(a)),
          h('th', { class: 'num' }, h('span', { class: 'ab b' }, 'B'), ' ', h('a', { href: runHref(b.id) }, b.name || b.id), ' ', statusBadge(b)),
          h('th', { class: 'num' }, 'B / A'),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map(([name, show, num, id]) =>
          h('tr', id ? { data: { row: id } } : null, h('th', null, name), h('td', { class: 'num' }, show(a)), h('td', { class: 'num' }, show(b)), h('td', { class: 'num' }, num ? ratio(num(a), num(b)) : '')),
        ),
      ),
    ),
    headline(a, 'a'),
    headline(b, 'b'),
  );
}
