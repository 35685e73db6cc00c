// Agents: every load generator the hub knows, with its link, state, labels,
// version and the load it is generating now, refreshed on every tick of the
// hub's live stream.

import { api, type Agent } from '../api';
import type { PageContext, Page } from '../app';
import { h, replace, setText, type Child } from '../dom';
import { fmtCount, fmtPct, fmtPerSec, fmtRps, fmtTime } from '../format';
import { describe } from '../panels';
import { errorBox, runHref, table, type Column } from './common';

// agentStateBadge shows the link when the agent is not connected (its last
// reported state would be stale), else its state; the class gives the colour.
export function agentStateBadge(a: Pick<Agent, 'link' | 'state' | 'saturated' | 'saturation_reason' | 'error'>): HTMLElement {
  const parts: Child[] = [];
  if (a.link !== 'connected') parts.push(h('span', { class: `badge agent-${a.link}`, data: { link: a.link } }, a.link));
  else parts.push(h('span', { class: `badge agent-${a.state}`, data: { state: a.state } }, a.state));
  if (a.saturated) parts.push(h('span', { class: 'badge warn', title: a.saturation_reason ?? '' }, 'SATURATED'));
  if (a.error) parts.push(h('span', { class: 'badge bad', title: a.error }, 'error'));
  return h('span', { class: 'badges' }, parts);
}

export function labelPills(labels: Record<string, string> | null | undefined): Child[] {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => h('span', { class: 'label-pill' }, `${k}=${v}`));
}

export function versionCell(a: Pick<Agent, 'version' | 'same_version'>): Child {
  if (a.same_version) return a.version;
  return h('span', { class: 'hot', title: "this agent runs another brink version than the hub's" }, `${a.version} (hub differs)`);
}

// The columns both the agents page and a run's agent table show for the
// load an agent generates in its last reported second.
export function loadColumns<T extends Agent>(): Column<T>[] {
  return [
    { title: 'VUs', num: true, cell: (a) => fmtCount(a.vus) },
    { title: 'target rate', num: true, cell: (a) => (a.target_rate > 0 ? fmtPerSec(a.target_rate) : '–'), hint: 'open-model iterations per second this agent is asked for' },
    { title: 'requests', num: true, cell: (a) => fmtRps(a.rps), hint: 'requests in its last reported second' },
    { title: 'failures', num: true, cell: (a) => fmtPerSec(a.failures), hint: 'failures in its last reported second' },
    { title: 'dropped', num: true, cell: (a) => fmtPerSec(a.dropped), hint: 'iterations dropped in its last second (VU pool exhausted)' },
    {
      title: 'CPU',
      num: true,
      cell: (a) => h('span', { class: a.cpu >= 0.9 ? 'hot' : undefined }, fmtPct(a.cpu, 1)),
      hint: 'its process CPU as a share of the cores it may use',
    },
  ];
}

export function agentsPage(ctx: PageContext): Page {
  const { app, root } = ctx;
  const summary = h('span', { class: 'dim' });
  const listBox = h('div', { class: 'table-box', data: { table: 'agents' } });
  replace(
    root,
    h('div', { class: 'toolbar' }, h('h1', null, 'Agents'), summary),
    listBox,
    h('p', { class: 'dim small' }, 'Agents dial out to the hub: start one with `brink agent --hub URL --token-file F`. A run uses them with `brink run --hub URL --agents N`.'),
  );

  let inFlight: AbortController | null = null;
  async function load(): Promise<void> {
    // One request at a time: on a busy hub a slow answer is not stacked
    // under the next tick's.
    if (inFlight) return;
    const ac = new AbortController();
    inFlight = ac;
    try {
      const res = await api.agents(ac.signal);
      if (!ac.signal.aborted) render(res.agents);
    } catch (err) {
      if (!ac.signal.aborted) replace(listBox, errorBox(describe(err)));
    } finally {
      if (inFlight === ac) inFlight = null;
    }
  }

  function render(agents: Agent[]): void {
    const connected = agents.filter((a) => a.link === 'connected').length;
    const busy = agents.filter((a) => a.link === 'connected' && a.run).length;
    setText(summary, `${agents.length} known, ${connected} connected, ${busy} in a run`);
    replace(
      listBox,
      table(
        'agents',
        [
          { title: 'agent', cell: (a: Agent) => [h('span', { class: 'agent-name' }, a.name), a.hostname && a.hostname !== a.name ? h('div', { class: 'dim small' }, a.hostname) : null] },
          { title: 'state', cell: (a) => agentStateBadge(a) },
          { title: 'labels', cell: (a) => labelPills(a.labels) },
          { title: 'version', cell: (a) => versionCell(a) },
          { title: 'cores', num: true, cell: (a) => fmtCount(a.cores) },
          { title: 'run', cell: (a) => (a.run ? h('a', { href: runHref(a.run), class: 'run-link' }, a.run) : h('span', { class: 'dim' }, 'idle')) },
          ...loadColumns<Agent>(),
          { title: 'seconds sent / held', num: true, cell: (a) => (a.run ? `${fmtCount(a.produced_seconds)} / ${fmtCount(a.acked_seconds)}` : '–'), hint: 'seconds of the current run it produced / the hub holds' },
          { title: 'last heard', num: true, cell: (a) => h('span', { title: fmtTime(a.last_seen_ms) }, `${fmtCount(a.silent_ms / 1000)} s ago`) },
          { title: 'joined', cell: (a) => fmtTime(a.first_seen_ms) },
        ],
        agents,
        'No agent has joined this hub. Start one with `brink agent --hub URL --token-file F`.',
        (a) => ({ agent: a.name, link: a.link, state: a.state }),
      ),
    );
  }

  const off = app.stream.subscribe({ tick: () => void load() });
  void load();
  return {
    destroy() {
      off();
      inFlight?.abort();
    },
  };
}
