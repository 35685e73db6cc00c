// Cluster: every host with its CPU, memory and network and its containers,
// and every service aggregated over its replicas. Tables show exact values
// at one instant (now, or any scrubbed second); charts show the range.

import { api, type Container, type ContainerGroup, type HubEvent, type Host, type Service } from '../api';
import type { PageContext, Page } from '../app';
import { h, replace, setText } from '../dom';
import { fmtBytes, fmtBytesRate, fmtCores, fmtCount, fmtPct, fmtRps, fmtTime } from '../format';
import { PanelGroup, describe, type PanelDef } from '../panels';
import { containerLabel, perSecond, shortId } from '../queries';
import { TimeBar, Timeline } from '../timebar';
import { errorBox, instantOf, markerText, runHref, section, table, type Column } from './common';

const hostPanels: PanelDef[] = [
  {
    panel: { id: 'host-cpu', title: 'Host CPU used', unit: 'cores', empty: 'no host metrics yet: start brink monitor --remote-write on each host' },
    queries: () => [
      { expr: (s) => `sum by (host) (${perSecond('node_cpu_seconds_total{mode!~"idle|iowait"}', s)})`, label: (m) => m.host ?? '?', colorKey: (m) => m.host ?? '' },
      { expr: () => 'max by (host) (machine_cpu_cores)', label: (m) => `${m.host ?? '?'} CPUs`, colorKey: (m) => m.host ?? '', dashed: true },
    ],
  },
  {
    panel: { id: 'host-memory', title: 'Host memory used', unit: 'bytes' },
    queries: () => [
      { expr: () => 'sum by (host) (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)', label: (m) => m.host ?? '?', colorKey: (m) => m.host ?? '' },
      { expr: () => 'sum by (host) (node_memory_MemTotal_bytes)', label: (m) => `${m.host ?? '?'} total`, colorKey: (m) => m.host ?? '', dashed: true },
    ],
  },
  {
    panel: { id: 'host-network', title: 'Host network (all devices but lo)', unit: 'bytes/s' },
    queries: () => [
      { expr: (s) => `sum by (host) (${perSecond('node_network_receive_bytes_total{device!="lo"}', s)})`, label: (m) => `${m.host ?? '?'} receive`, colorKey: (m) => `${m.host}|rx` },
      { expr: (s) => `sum by (host) (${perSecond('node_network_transmit_bytes_total{device!="lo"}', s)})`, label: (m) => `${m.host ?? '?'} transmit`, colorKey: (m) => `${m.host}|tx` },
    ],
  },
  {
    panel: { id: 'container-cpu', title: 'Container CPU', unit: 'cores', empty: 'no containers in this range' },
    queries: () => [
      { expr: (s) => `sum by (host, name) (${perSecond('container_cpu_usage_seconds_total{name!=""}', s)})`, label: containerLabel, colorKey: (m) => `${m.host}|${m.name}` },
    ],
  },
  {
    panel: { id: 'service-cpu', title: 'Service CPU (sum of replicas)', unit: 'cores', empty: 'no container carries a service label in this range' },
    queries: () => [
      { expr: (s) => `sum by (service) (${perSecond('container_cpu_usage_seconds_total{name!="",service!=""}', s)})`, label: (m) => m.service ?? '?', colorKey: (m) => `svc|${m.service}` },
    ],
  },
  {
    panel: { id: 'container-memory', title: 'Container memory working set', unit: 'bytes', empty: 'no containers in this range' },
    queries: () => [
      { expr: () => 'max by (host, name) (container_memory_working_set_bytes{name!=""})', label: containerLabel, colorKey: (m) => `${m.host}|${m.name}` },
    ],
  },
];

const hostCols: Column<Host>[] = [
  { title: 'host', cell: (r) => h('strong', null, r.host) },
  { title: 'CPUs', num: true, cell: (r) => fmtCount(r.cpus) },
  { title: 'CPU used', num: true, cell: (r) => fmtCores(r.cpu_used_cores) },
  { title: 'CPU util', num: true, cell: (r) => fmtPct(r.cpu_utilization) },
  { title: 'memory used', num: true, cell: (r) => fmtBytes(r.memory_used_bytes) },
  { title: 'available', num: true, cell: (r) => fmtBytes(r.memory_available_bytes) },
  { title: 'total', num: true, cell: (r) => fmtBytes(r.memory_total_bytes) },
  { title: 'net receive', num: true, cell: (r) => fmtBytesRate(r.network_receive_bytes_per_second) },
  { title: 'net transmit', num: true, cell: (r) => fmtBytesRate(r.network_transmit_bytes_per_second) },
  { title: 'load1', num: true, cell: (r) => fmtCount(r.load1) },
  { title: 'containers', num: true, cell: (r) => fmtCount(r.containers) },
  { title: 'last seen', cell: (r) => fmtTime(r.last_seen_ms) },
];

const serviceCols: Column<Service>[] = [
  { title: 'service', cell: (r) => h('strong', null, r.service) },
  { title: 'replicas', num: true, cell: (r) => fmtCount(r.replicas) },
  { title: 'hosts', cell: (r) => r.hosts.join(', ') },
  { title: 'CPU (sum)', num: true, cell: (r) => fmtCores(r.cpu_cores) },
  { title: 'CPU limit (sum)', num: true, cell: (r) => fmtCores(r.cpu_limit_cores) },
  { title: 'working set (sum)', num: true, cell: (r) => fmtBytes(r.memory_working_set_bytes) },
  { title: 'memory limit (sum)', num: true, cell: (r) => fmtBytes(r.memory_limit_bytes) },
  { title: 'RPS', num: true, hint: 'request rate of the runs that target this service', cell: (r) => fmtRps(r.rps) },
  { title: 'runs', cell: (r) => r.runs.map((id, i) => [i > 0 ? ' ' : null, h('a', { href: runHref(id) }, id)]) },
  { title: 'containers', cell: (r) => r.containers.join(', ') },
];

function ratioCell(used: number | null, limit: number | null, fmt: (v: number | null) => string): HTMLElement {
  const ratio = used !== null && limit ? used / limit : null;
  return h('span', { class: ratio !== null && ratio >= 0.9 ? 'hot' : undefined, title: ratio !== null ? `${fmtPct(ratio)} of the limit` : 'no limit' }, fmt(used));
}

const containerCols: Column<Container>[] = [
  { title: 'container', cell: (r) => h('strong', { title: r.id }, r.name || shortId(r.id)) },
  { title: 'service', cell: (r) => r.service },
  { title: 'image', cell: (r) => h('span', { class: 'dim' }, r.image) },
  { title: 'CPU', num: true, cell: (r) => ratioCell(r.cpu_cores, r.cpu_limit_cores, fmtCores) },
  { title: 'CPU limit', num: true, cell: (r) => fmtCores(r.cpu_limit_cores) },
  { title: 'throttled', num: true, hint: 'throttled periods / periods over the last second', cell: (r) => fmtPct(r.cpu_throttled_ratio) },
  { title: 'working set', num: true, cell: (r) => ratioCell(r.memory_working_set_bytes, r.memory_limit_bytes, fmtBytes) },
  { title: 'memory limit', num: true, cell: (r) => fmtBytes(r.memory_limit_bytes) },
  { title: 'net receive', num: true, cell: (r) => (r.network_receive_bytes_per_second === null ? h('span', { class: 'dim', title: 'shares the host network' }, 'host net') : fmtBytesRate(r.network_receive_bytes_per_second)) },
  { title: 'net transmit', num: true, cell: (r) => (r.network_transmit_bytes_per_second === null ? h('span', { class: 'dim', title: 'shares the host network' }, 'host net') : fmtBytesRate(r.network_transmit_bytes_per_second)) },
  { title: 'last seen', cell: (r) => fmtTime(r.last_seen_ms) },
];

export function clusterPage(ctx: PageContext): Page {
  const { app, root } = ctx;
  const timeline = new Timeline(app);
  const bar = new TimeBar(timeline);
  const group = new PanelGroup(timeline, hostPanels, 'cluster', (c) => {
    if (c === 'range') void loadTables();
  });
  const instantText = h('span', { class: 'instant' });
  const hostsBox = h('div', { class: 'table-box', data: { table: 'hosts' } });
  const servicesBox = h('div', { class: 'table-box', data: { table: 'services' } });
  const containersBox = h('div', { class: 'table-box', data: { table: 'containers' } });
  const errBox = h('div');

  replace(
    root,
    bar.el,
    errBox,
    h('div', { class: 'instant-line' }, 'Tables show exact values at ', instantText, h('span', { class: 'dim' }, ' — scrub the timeline or click a chart to pick another second')),
    section('Hosts', hostsBox),
    h('div', { class: 'panels grid-2' }, group.elements.slice(0, 3)),
    section('Services', servicesBox),
    section('Containers by host', containersBox),
    h('div', { class: 'panels grid-2' }, group.elements.slice(3)),
  );

  let tableAbort: AbortController | null = null;
  let tableBusy = false;
  async function loadTables(): Promise<void> {
    tableAbort?.abort();
    const ac = new AbortController();
    tableAbort = ac;
    tableBusy = true;
    const at = instantOf(timeline.view);
    try {
      const [hosts, services, containers] = await Promise.all([
        api.hosts(at, ac.signal),
        api.services(at, ac.signal),
        api.containers(at, 'host', {}, ac.signal),
      ]);
      if (ac.signal.aborted) return;
      setText(instantText, fmtTime(hosts.time_ms));
      replace(errBox);
      replace(hostsBox, table('hosts', hostCols, hosts.hosts, 'No host has reported at this instant. Start `brink monitor --remote-write http://HUB/api/v1/write` on each host.', (r) => ({ host: r.host })));
      replace(servicesBox, table('services', serviceCols, services.services, 'No container carries a service label at this instant.', (r) => ({ service: r.service })));
      replace(containersBox, containerGroups(containers.groups));
    } catch (err) {
      if (!ac.signal.aborted) replace(errBox, errorBox(describe(err)));
    } finally {
      if (tableAbort === ac) tableBusy = false;
    }
  }

  // Live view: the tables follow the hub's clock, once per second, skipping
  // a tick when the previous answer has not arrived yet.
  const offTick = timeline.onChange((c) => {
    if (c === 'tick' && !tableBusy) void loadTables();
    if (c === 'pin') void loadTables();
  });
  // Scaling decisions, runs and other events are marked on every chart.
  let events: HubEvent[] = [];
  const shown = (e: HubEvent) => e.kind !== 'hub_started' && e.kind !== 'config_reloaded';
  function showMarkers(): void {
    group.setMarkers(events.map((e) => ({ t: e.time_ms / 1000, kind: e.kind, text: markerText(e), title: e.message })));
  }
  async function loadEvents(): Promise<void> {
    const v = timeline.view;
    try {
      events = (await api.events({ from: v.from, to: v.to + 1, limit: 1000 })).events.filter(shown);
      showMarkers();
    } catch (err) {
      replace(errBox, errorBox(describe(err)));
    }
  }
  const offEvents = timeline.onChange((c) => {
    if (c === 'range') void loadEvents();
  });

  const offStream = app.stream.subscribe({
    tick: (t) => timeline.tick(t.now_ms / 1000),
    event: (e) => {
      if (!shown(e)) return;
      events = [e, ...events.filter((x) => x.id !== e.id)];
      showMarkers();
    },
  });
  void group.reload();
  void loadEvents();

  return {
    destroy() {
      offTick();
      offEvents();
      offStream();
      tableAbort?.abort();
      group.destroy();
      bar.destroy();
    },
    onQuery: () => timeline.fromURL(),
  };
}

function containerGroups(groups: ContainerGroup[]): HTMLElement {
  if (groups.length === 0) return h('p', { class: 'empty-note' }, 'No container has reported at this instant.');
  return h(
    'div',
    null,
    groups.map((g) =>
      h(
        'div',
        { class: 'host-group', data: { host: g.key } },
        h('h3', null, g.key, h('span', { class: 'dim' }, ` ${g.containers.length} container${g.containers.length === 1 ? '' : 's'}`)),
        table('containers', containerCols, g.containers, 'none', (r) => ({ container: r.name })),
      ),
    ),
  );
}
