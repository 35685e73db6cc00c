// One screen for a test run: the load (RPS, latency percentiles, failures,
// VUs) on top and, on the same time axis, the target service's containers
// (CPU against limit, throttling, memory against limit), its replicas and
// its hosts' CPU, with run and scaling events marked on every chart.

import { api, type HubEvent, type LatencyWindow, type Run, type RunAnalysis, type Tick } from '../api';
import type { PageContext, Page } from '../app';
import type { Marker } from '../chart';
import { h, replace, type Child } from '../dom';
import { fmtCount, fmtDuration, fmtMs, fmtPct, fmtRps, fmtTime, fmtUs } from '../format';
import { PanelGroup, describe, type PanelDef } from '../panels';
import { containerLabel, perRunSecond, perSecond, runGaugeLookback, sel } from '../queries';
import { TimeBar, Timeline } from '../timebar';
import { viewParams } from '../timeline';
import { kneeMarker } from '../knee';
import { renderAnalysis } from './analysis';
import { errorBox, markerText, section, statusBadge, table } from './common';
import { RunAgentsPanel, isDistributed } from './runagents';


function loadPanels(run: Run): PanelDef[] {
  const r = { run: run.id };
  const quantiles = sel('brink_run_latency_seconds', r, 'quantile=~"0.5|0.95|0.99"');
  return [
    {
      panel: { id: 'rps', title: 'Throughput', unit: 'req/s', empty: 'no seconds stored for this run in this range' },
      queries: () => [
        { expr: (s) => `sum by (name) (${perRunSecond(sel('brink_requests_total', r), s)})`, label: (m) => m.name || 'requests', colorKey: (m) => `name|${m.name}` },
      ],
      total: { label: 'all requests', colorKey: 'all', minSeries: 2 },
    },
    {
      panel: { id: 'latency', title: 'Latency per second (all requests)', unit: 'ms' },
      queries: () => [
        {
          expr: (s) => (s <= 1 ? `max by (quantile) (${quantiles})` : `max by (quantile) (max_over_time(${quantiles}[${s}s]))`),
          label: (m) => `p${+(Number(m.quantile) * 100).toFixed(1)}`,
          colorKey: (m) => `q${m.quantile}`,
          scale: 1000,
          lookback: runGaugeLookback,
        },
      ],
    },
    {
      panel: { id: 'failures', title: 'Failures', unit: 'per/s' },
      queries: () => [
        { expr: (s) => `sum(${perRunSecond(sel('brink_failures_total', r), s)})`, label: () => 'all failures', colorKey: () => 'all' },
        { expr: (s) => `sum by (kind) (${perRunSecond(sel('brink_failures_total', r), s)})`, label: (m) => m.kind ?? '?', colorKey: (m) => `kind|${m.kind}`, dropAllZero: true },
      ],
    },
    {
      panel: { id: 'vus', title: 'Virtual users', unit: 'count', height: 120 },
      queries: () => [
        { expr: () => `sum(${sel('brink_vus', r)})`, label: () => 'VUs', colorKey: () => 'vus', lookback: runGaugeLookback },
        {
          expr: () => `sum(${sel('brink_target_rate', r)})`,
          label: () => 'target rate (iterations/s)',
          colorKey: () => 'rate',
          dashed: true,
          dropAllZero: true,
          lookback: runGaugeLookback,
        },
      ],
    },
  ];
}

function servicePanels(service: () => string): PanelDef[] {
  return serviceQueries(service).map((d) => {
    const emptyText = typeof d.panel.empty === 'string' ? d.panel.empty : 'no data in this range';
    return {
      ...d,
      panel: { ...d.panel, empty: () => (service() ? emptyText : 'no service chosen: pick one above') },
      // With no service there is nothing to select: service="" would match
      // every container that has no service label.
      queries: () => (service() ? d.queries() : []),
    };
  });
}

function serviceQueries(service: () => string): PanelDef[] {
  const c = (metric: string) => sel(metric, { service: service() }, 'name!=""');
  const byC = 'host, name';
  const withHost = containerLabel;
  const key = (m: Record<string, string>) => `${m.host}|${m.name}`;
  return [
    {
      panel: { id: 'container-cpu', title: 'Container CPU against limit', unit: 'cores', empty: 'no container of this service in this range' },
      queries: () => [
        { expr: (s) => `sum by (${byC}) (${perSecond(c('container_cpu_usage_seconds_total'), s)})`, label: withHost, colorKey: key },
        { expr: () => `max by (${byC}) (${c('container_spec_cpu_quota')} / ${c('container_spec_cpu_period')}) > 0`, label: (m, n) => `${withHost(m, n)} limit`, colorKey: key, dashed: true },
      ],
      total: { label: 'all replicas (sum)', colorKey: '~sum', minSeries: 1 },
    },
    {
      panel: { id: 'container-throttling', title: 'CPU throttling (throttled periods / periods)', unit: 'ratio', yMax: 1, height: 130 },
      queries: () => [
        {
          expr: (s) =>
            // A container that did not run in a second had no periods:
            // that is no throttling (0), not a gap.
            `(sum by (${byC}) (${perSecond(c('container_cpu_cfs_throttled_periods_total'), s)}) / (sum by (${byC}) (${perSecond(c('container_cpu_cfs_periods_total'), s)}) > 0)) or (sum by (${byC}) (${perSecond(c('container_cpu_cfs_periods_total'), s)}) * 0)`,
          label: withHost,
          colorKey: key,
        },
      ],
    },
    {
      panel: { id: 'container-memory', title: 'Container memory working set against limit', unit: 'bytes' },
      queries: () => [
        { expr: () => `max by (${byC}) (${c('container_memory_working_set_bytes')})`, label: withHost, colorKey: key },
        { expr: () => `max by (${byC}) (${c('container_spec_memory_limit_bytes')}) > 0`, label: (m, n) => `${withHost(m, n)} limit`, colorKey: key, dashed: true },
      ],
    },
    {
      panel: { id: 'replicas', title: 'Replicas', unit: 'count', height: 100 },
      queries: () => [{ expr: () => `count(${c('container_memory_working_set_bytes')})`, label: () => `replicas of ${service()}`, colorKey: () => 'replicas' }],
    },
    {
      panel: { id: 'host-cpu', title: "CPU of the service's hosts", unit: 'cores', empty: 'no host metrics for the hosts of this service' },
      queries: () => {
        const onHosts = `and on (host) group by (host) (${c('container_memory_working_set_bytes')})`;
        return [
          { expr: (s) => `sum by (host) (${perSecond('node_cpu_seconds_total{mode!~"idle|iowait"}', s)}) ${onHosts}`, label: (m) => m.host ?? '?', colorKey: (m) => `host|${m.host}` },
          { expr: () => `max by (host) (machine_cpu_cores) ${onHosts}`, label: (m) => `${m.host ?? '?'} CPUs`, colorKey: (m) => `host|${m.host}`, dashed: true },
        ];
      },
    },
  ];
}

export function runPage(ctx: PageContext): Page {
  const { root, params } = ctx;
  const id = params.id;
  const ac = new AbortController();
  let inner: Page | null = null;
  replace(root, h('p', { class: 'dim' }, `loading run ${id}…`));
  api
    .run(id, ac.signal)
    .then((run) => {
      if (!ac.signal.aborted) inner = buildRunPage(ctx, run);
    })
    .catch((err) => {
      if (!ac.signal.aborted) replace(root, errorBox(describe(err)), h('p', null, h('a', { href: '/runs' }, 'All runs')));
    });
  return {
    destroy() {
      ac.abort();
      inner?.destroy();
    },
    onQuery() {
      inner?.onQuery?.();
    },
  };
}

function buildRunPage(ctx: PageContext, initial: Run): Page {
  const { app, root } = ctx;
  let run = initial;
  const urlService = () => app.currentQuery().get('service') ?? '';
  const service = () => urlService() || run.target_service;
  const pre = 15;

  const timeline = new Timeline(app, () => {
    const start = Math.floor(run.started_ms / 1000) - pre;
    // A running run is followed live from just before its start, so the
    // whole run stays in view however long it lasts.
    if (run.status === 'running') return { live: true, from: start, to: app.nowSeconds() };
    const end = Math.ceil((run.ended_ms ?? run.last_second_ms ?? run.started_ms) / 1000) + pre;
    return { live: false, from: start, to: Math.max(end, start + 30) };
  });
  const bar = new TimeBar(timeline);

  const head = h('div', { class: 'run-head' });
  const tiles = h('div', { class: 'tiles' });
  const latencyBox = h('div', { class: 'table-box', data: { table: 'window-latency' } });
  const namesBox = h('div', { class: 'table-box', data: { table: 'by-name' } });
  const eventsBox = h('div', { class: 'table-box', data: { table: 'events' } });
  const thresholdsBox = h('div', { class: 'table-box' });
  const scenarioBox = h('div');
  const serviceHead = h('div', { class: 'service-head' });
  const liveTiles = h('span', { class: 'live-tiles' });
  const analysisBox = h('div', { class: 'analysis table-box', data: { analysis: 'loading' } }, h('p', { class: 'dim' }, 'loading the saturation analysis…'));

  const load = new PanelGroup(timeline, loadPanels(run), `run-${run.id}`, (c) => onLoaded(c));
  const svc = new PanelGroup(timeline, servicePanels(service), `run-${run.id}`, () => undefined);
  // A run split over agents gets their rows and a Stop button.
  const agentsPanel = isDistributed(run) ? new RunAgentsPanel(app, run.id) : null;

  replace(
    root,
    head,
    tiles,
    agentsPanel ? section('Agents', agentsPanel.el) : null,
    section('Saturation analysis', analysisBox),
    bar.el,
    h('h2', { class: 'band' }, 'Load'),
    h('div', { class: 'panels stack' }, load.elements),
    h('h2', { class: 'band' }, serviceHead),
    h('div', { class: 'panels stack' }, svc.elements),
    h(
      'div',
      { class: 'grid-2 below' },
      section('Latency over the visible range (exact, merged histograms)', latencyBox),
      section('By request name (whole run)', namesBox),
    ),
    section('Events', eventsBox),
    section('Thresholds', thresholdsBox),
    section('Scenario', scenarioBox),
  );

  function renderHead(): void {
    const labels = Object.entries(run.labels ?? {});
    const duration = ((run.ended_ms ?? run.last_second_ms ?? run.started_ms) - run.started_ms) / 1000;
    replace(
      head,
      h('div', { class: 'title-line' }, h('h1', null, run.name || run.id), statusBadge(run)),
      h(
        'dl',
        { class: 'facts' },
        fact('id', h('code', null, run.id)),
        fact('target service', run.target_service || h('span', { class: 'dim' }, 'none given')),
        fact('started', fmtTime(run.started_ms)),
        fact(run.ended_ms ? 'ended' : 'last second', fmtTime(run.ended_ms ?? run.last_second_ms)),
        fact('duration', fmtDuration(duration)),
        fact('sources', (run.sources ?? []).map((s) => `${s.source} (${s.status}, ${s.seconds} s)`).join(', ') || '–'),
        labels.length ? fact('labels', labels.map(([k, v]) => h('span', { class: 'label-pill' }, `${k}=${v}`))) : null,
      ),
    );
    const t = run.totals;
    const lat = t?.latency_ms;
    replace(
      tiles,
      tile('requests', fmtCount(t?.requests)),
      tile('mean rate', fmtRps(t?.rps)),
      tile('failures', fmtCount(t?.failures), (t?.failures ?? 0) > 0 ? 'bad' : undefined),
      tile('error rate', fmtPct(t?.error_rate, 3), (t?.error_rate ?? 0) > 0 ? 'bad' : undefined),
      tile('p50', fmtMs(lat?.p50)),
      tile('p95', fmtMs(lat?.p95)),
      tile('p99', fmtMs(lat?.p99)),
      tile('max', fmtMs(lat?.max)),
      liveTiles,
    );
    replace(
      namesBox,
      table(
        'by-name',
        [
          { title: 'request', cell: (r: [string, NonNullable<Run['totals']>]) => r[0] },
          { title: 'requests', num: true, cell: (r) => fmtCount(r[1].requests) },
          { title: 'failures', num: true, cell: (r) => fmtCount(r[1].failures) },
          { title: 'rate', num: true, cell: (r) => fmtRps(r[1].rps) },
          { title: 'p50', num: true, cell: (r) => fmtMs(r[1].latency_ms?.p50) },
          { title: 'p95', num: true, cell: (r) => fmtMs(r[1].latency_ms?.p95) },
          { title: 'p99', num: true, cell: (r) => fmtMs(r[1].latency_ms?.p99) },
          { title: 'max', num: true, cell: (r) => fmtMs(r[1].latency_ms?.max) },
        ],
        Object.entries(run.by_name ?? {}),
        'No per-name figures yet.',
      ),
    );
    replace(
      thresholdsBox,
      table(
        'thresholds',
        [
          { title: 'threshold', cell: (r) => h('code', null, r.expr) },
          { title: 'metric', cell: (r) => r.metric },
          { title: 'actual', num: true, cell: (r) => fmtCount(r.actual) },
          { title: 'limit', num: true, cell: (r) => fmtCount(r.limit) },
          { title: 'outcome', cell: (r) => h('span', { class: r.ok ? 'badge ok' : 'badge bad' }, r.ok ? 'held' : 'failed') },
        ],
        run.thresholds ?? [],
        run.thresholds_ok === null ? 'Thresholds are judged when the run finishes.' : 'The run had no thresholds.',
      ),
    );
    replace(scenarioBox, run.scenario ? h('pre', { class: 'scenario' }, run.scenario) : h('p', { class: 'empty-note' }, 'No scenario file (started with --url).'));
    renderServiceHead();
  }

  function renderLiveTiles(t: Tick): void {
    const r = t.runs.find((x) => x.id === run.id);
    if (!r || r.status !== 'running') {
      replace(liveTiles);
      return;
    }
    replace(liveTiles, tile('now: rate', fmtRps(r.rps), 'live'), tile('now: p95', fmtMs(r.p95_ms), 'live'), tile('now: VUs', fmtCount(r.vus), 'live'));
  }

  const serviceSelect = h('select', {
    'aria-label': 'service shown below the load',
    on: {
      change: () => {
        const q = app.currentQuery();
        const v = serviceSelect.value;
        if (v && v !== run.target_service) q.set('service', v);
        else q.delete('service');
        app.setQuery(q, true);
        renderServiceHead();
        void svc.reload();
        void loadEvents();
        void loadAnalysis();
      },
    },
  });
  async function fillServices(): Promise<void> {
    try {
      const list = await api.services(null);
      const names = new Set(list.services.map((s) => s.service));
      if (run.target_service) names.add(run.target_service);
      if (urlService()) names.add(urlService());
      replace(
        serviceSelect,
        h('option', { value: '' }, run.target_service ? `${run.target_service} (target)` : 'choose a service'),
        [...names].filter((n) => n !== run.target_service).sort().map((n) => h('option', { value: n }, n)),
      );
      serviceSelect.value = urlService();
    } catch (err) {
      replace(serviceSelect, h('option', { value: '' }, `services unavailable: ${describe(err)}`));
    }
  }
  // The cluster view of the same range: every host and container while
  // this run was going, not only the target service's.
  const clusterLink = h('a', { class: 'btn small', href: '/', title: 'Every host and container over this range' }, 'cluster in this range');
  function updateClusterLink(): void {
    const v = timeline.view;
    const q = viewParams(v, new URLSearchParams());
    clusterLink.setAttribute('href', `/?${q.toString()}`);
  }
  timeline.onChange(() => updateClusterLink());
  updateClusterLink();

  function renderServiceHead(): void {
    const s = service();
    replace(
      serviceHead,
      s ? ['Service ', h('span', { class: 'svc-name' }, s), ' — its containers and hosts'] : 'No target service: pick one to see its containers on this time axis',
      ' ',
      serviceSelect,
      clusterLink,
    );
  }

  async function loadLatency(): Promise<void> {
    const v = timeline.view;
    try {
      const w = await api.latency(run.id, v.from, v.to + 1);
      renderLatency(w);
    } catch (err) {
      replace(latencyBox, errorBox(describe(err)));
    }
  }
  function renderLatency(w: LatencyWindow): void {
    const rows: [string, string][] = [
      ['window', `${fmtTime(w.from_ms)} → ${fmtTime(w.to_ms)}`],
      ['seconds with data', fmtCount(w.seconds)],
      ['requests', fmtCount(w.count)],
      ['min', fmtUs(w.min_us)],
      ['mean', fmtUs(w.mean_us)],
      ...w.quantiles.map((q) => [q.q === 1 ? 'max' : `p${+(q.q * 100).toFixed(1)}`, fmtUs(q.us)] as [string, string]),
    ];
    replace(latencyBox, h('table', { class: 'data kv' }, h('tbody', null, rows.map(([k, val]) => h('tr', null, h('th', null, k), h('td', { class: 'num' }, val))))));
  }

  let events: HubEvent[] = [];
  async function loadEvents(): Promise<void> {
    const v = timeline.view;
    try {
      const res = await api.events({ from: v.from, to: v.to + 1, limit: 1000 });
      events = res.events.filter(relevant);
      showEvents();
    } catch (err) {
      replace(eventsBox, errorBox(describe(err)));
    }
  }
  function pinEvent(ev: Event, e: HubEvent): void {
    ev.preventDefault();
    timeline.pin(Math.round(e.time_ms / 1000));
  }
  // The markers are this run's own start, end and knee, and everything else
  // that happened to its service (scaling); other runs' are not.
  function relevant(e: HubEvent): boolean {
    if (e.run === run.id) return true;
    // Another run's knee is that run's finding, not this one's.
    if (e.kind === 'knee') return false;
    return service() !== '' && e.service === service() && !e.kind.startsWith('run_');
  }
  // The knee is marked where the run's analysis puts it; the run's own
  // knee events (one per analysis kept) stand in until it is loaded.
  function markers(): Marker[] {
    const own = (e: HubEvent) => e.kind === 'knee' && e.run === run.id;
    const out: Marker[] = events.filter((e) => !own(e)).map((e) => ({ t: e.time_ms / 1000, kind: e.kind, text: markerText(e), title: e.message }));
    const fromAnalysis = kneeMarker(analysis);
    const latestKneeEvent = events.find(own);
    if (fromAnalysis) out.push(fromAnalysis);
    else if (!analysis && latestKneeEvent) out.push({ t: latestKneeEvent.time_ms / 1000, kind: 'knee', text: markerText(latestKneeEvent), title: latestKneeEvent.message });
    return out;
  }
  function showMarkers(): void {
    const m = markers();
    load.setMarkers(m);
    svc.setMarkers(m);
  }
  function showEvents(): void {
    showMarkers();
    replace(
      eventsBox,
      table(
        'events',
        [
          { title: 'time', cell: (e: HubEvent) => h('a', { href: '#', on: { click: (ev) => pinEvent(ev, e) } }, fmtTime(e.time_ms)) },
          { title: 'kind', cell: (e) => h('span', { class: `ev ev-${e.kind}` }, e.kind) },
          { title: 'service', cell: (e) => e.service },
          { title: 'host', cell: (e) => e.host },
          { title: 'message', cell: (e) => e.message },
        ],
        events,
        'No events in this range.',
        (e) => ({ kind: e.kind }),
      ),
    );
  }

  // The analysis: the one the hub keeps once the run ended (computed a few
  // seconds after the end, so that the monitors' last samples are in), or
  // one computed on request while the run goes on. A run that names no
  // target service is analyzed against the service chosen on this page.
  let analysis: RunAnalysis | null = null;
  let analysisAbort: AbortController | null = null;
  let analysisRetry: ReturnType<typeof setTimeout> | null = null;
  let analysisPolls = 0;
  function analysisService(): string | undefined {
    const s = urlService();
    return s && s !== run.target_service ? s : undefined;
  }
  async function loadAnalysis(refresh = false, evenIfRunning = false): Promise<void> {
    analysisAbort?.abort();
    if (analysisRetry !== null) clearTimeout(analysisRetry);
    analysisRetry = null;
    if (run.status === 'running' && !evenIfRunning) {
      analysis = null;
      analysisBox.dataset.analysis = 'running';
      replace(
        analysisBox,
        h('p', { class: 'dim' }, 'The knee and the resource that limited the service are computed when the run ends. '),
        h('button', { class: 'btn small', type: 'button', on: { click: () => void loadAnalysis(false, true) } }, 'analyze so far'),
      );
      showMarkers();
      return;
    }
    const ac = new AbortController();
    analysisAbort = ac;
    try {
      const a = await api.analysis(run.id, { refresh, service: analysisService() }, ac.signal);
      if (ac.signal.aborted) return;
      analysis = a;
      renderAnalysis(analysisBox, a, {
        pin: (x) => timeline.pin(x),
        recompute: run.status === 'running' ? null : () => void loadAnalysis(true),
      });
      showMarkers();
      // An ended run's analysis is provisional for the few seconds the hub
      // waits for late samples: ask again until it is final.
      if (!a.final && run.status !== 'running' && analysisPolls++ < 60) {
        analysisRetry = setTimeout(() => void loadAnalysis(), 2000);
      }
    } catch (err) {
      if (ac.signal.aborted) return;
      analysisBox.dataset.analysis = 'error';
      replace(analysisBox, errorBox(`saturation analysis: ${describe(err)}`), h('button', { class: 'btn small', type: 'button', on: { click: () => void loadAnalysis(true) } }, 'retry'));
    }
  }

  async function refreshRun(): Promise<void> {
    try {
      const wasRunning = run.status === 'running';
      run = await api.run(run.id);
      renderHead();
      if (wasRunning && run.status !== 'running') {
        analysisPolls = 0;
        void loadAnalysis();
      }
    } catch (err) {
      replace(thresholdsBox, errorBox(describe(err)));
    }
  }

  let ticks = 0;
  function onLoaded(c: string): void {
    if (c === 'range') {
      void loadLatency();
      void loadEvents();
    }
  }
  const offStream = app.stream.subscribe({
    tick: (t) => {
      timeline.tick(t.now_ms / 1000);
      renderLiveTiles(t);
      void agentsPanel?.refresh();
      ticks++;
      const active = run.status === 'running' || t.runs.some((r) => r.id === run.id && r.status !== run.status);
      if (active && ticks % 2 === 0) void refreshRun();
      if (timeline.view.live && ticks % 5 === 0) void loadLatency();
    },
    event: (e) => {
      if (!relevant(e)) return;
      events = [e, ...events.filter((x) => x.id !== e.id)];
      showEvents();
      if (e.run === run.id) void refreshRun();
      // The hub kept a new analysis of this run.
      if (e.kind === 'knee' && e.run === run.id && run.status !== 'running' && !analysisService()) void loadAnalysis();
    },
  });

  renderHead();
  void fillServices();
  void load.reload();
  void svc.reload();
  void loadAnalysis();
  void agentsPanel?.refresh();

  return {
    destroy() {
      offStream();
      agentsPanel?.destroy();
      analysisAbort?.abort();
      if (analysisRetry !== null) clearTimeout(analysisRetry);
      load.destroy();
      svc.destroy();
      bar.destroy();
    },
    onQuery() {
      const before = serviceSelect.value;
      renderServiceHead();
      serviceSelect.value = urlService();
      timeline.fromURL();
      if (serviceSelect.value !== before) void loadAnalysis();
    },
  };
}

function fact(term: string, value: Child): Child[] {
  return [h('dt', null, term), h('dd', null, value)];
}

function tile(label: string, value: string, cls?: string): HTMLElement {
  return h('div', { class: cls ? `tile ${cls}` : 'tile', data: { tile: label } }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value));
}
