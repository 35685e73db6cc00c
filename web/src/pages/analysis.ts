// The saturation analysis panel of a run page: where the run's knee is,
// what sign marked it, what limited the service there, and the numbers
// behind that verdict (every resource examined at the knee).

import type { RunAnalysis } from '../api';
import { h, replace, type Child } from '../dom';
import { fmtClock, fmtPct, fmtRps, fmtTime } from '../format';
import { findingFigure, fmtOffered, kneeX, resourceName, signalName, signalValue } from '../knee';
import { table } from './common';

export interface AnalysisActions {
  // pin the chart cursor at an instant (Unix seconds)
  pin: (x: number) => void;
  // compute the analysis again (the hub's ?refresh=1); null while the run runs
  recompute: (() => void) | null;
}

function tile(label: string, value: string, cls?: string): HTMLElement {
  return h('div', { class: cls ? `tile ${cls}` : 'tile', data: { tile: label } }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value));
}

function badge(text: string, cls = ''): HTMLElement {
  return h('span', { class: `badge ${cls}`.trim() }, text);
}

// renderAnalysis fills box with analysis a.
export function renderAnalysis(box: HTMLElement, a: RunAnalysis, actions: AnalysisActions): void {
  const k = a.knee;
  box.dataset.analysis = k ? 'knee' : 'no-knee';
  box.dataset.final = String(a.final);
  const badges: Child[] = [];
  if (!a.final) badges.push(badge('provisional: the run is still going or its last samples are arriving', 'warn'));
  if (a.service_chosen) badges.push(badge(`service ${a.target_service} (chosen)`));
  if (a.limit?.generator) badges.push(badge('limited by the load generator', 'bad'));

  const tiles: HTMLElement[] = [];
  if (k) {
    tiles.push(
      tile(k.saturated_throughout ? 'saturated throughout at' : 'knee load', fmtOffered(k.offered, k.offered_unit), 'knee'),
      tile('knee at', `${fmtClock(k.unix * 1000)} (t=${k.t}s)`),
      tile('good throughput there', fmtRps(k.throughput_rps)),
      tile('first sign', signalName(k.cause)),
    );
  } else {
    tiles.push(tile('knee', 'none found'));
  }
  tiles.push(tile('max sustained', fmtRps(a.max_sustained_rps)));
  if (a.limit) {
    const what = resourceName(a.limit.resource) + (a.limit.entity ? ` ${a.limit.entity}` : '');
    tiles.push(tile('limiting resource', what, a.limit.generator ? 'bad' : a.limit.resource === 'unknown' ? undefined : 'limit'));
  }

  const signals = k
    ? table(
        'knee-signals',
        [
          { title: 'sign', cell: (s: NonNullable<RunAnalysis['knee']>['signals'][number]) => signalName(s.kind) },
          { title: 'from', cell: (s) => h('a', { href: '#', on: { click: (ev) => (ev.preventDefault(), actions.pin(kneeX(s))) } }, `${fmtClock(s.unix * 1000)} (t=${s.t}s)`) },
          { title: 'offered load', num: true, cell: (s) => fmtOffered(s.offered, k.offered_unit) },
          { title: 'value', num: true, cell: (s) => signalValue(s, s.value) },
          { title: 'at low load', num: true, hint: 'for throughput: what the offered load gives at the low-load efficiency', cell: (s) => signalValue(s, s.baseline) },
        ],
        k.signals ?? [],
        'No sign recorded.',
        (s) => ({ kind: s.kind }),
      )
    : null;
  const findings = a.findings ?? [];
  const evidence = table(
    'knee-findings',
    [
      { title: 'resource', cell: (f: (typeof findings)[number]) => resourceName(f.resource) },
      { title: 'entity', cell: (f) => f.entity ?? '' },
      { title: 'used', num: true, cell: (f) => findingFigure(f, f.used) },
      { title: 'limit', num: true, cell: (f) => findingFigure(f, f.limit, true) },
      { title: 'of limit', num: true, cell: (f) => (f.limit ? fmtPct(f.utilization, 1) : '–') },
      { title: 'throttled', num: true, hint: 'CFS periods throttled / periods', cell: (f) => (f.throttled_ratio !== undefined ? fmtPct(f.throttled_ratio, 1) : '–') },
      { title: 'at limit', cell: (f) => (f.saturated ? h('span', { class: 'badge bad' }, 'yes') : h('span', { class: 'dim' }, 'no')) },
    ],
    findings,
    k ? 'No resource series were recorded for this run.' : 'Resources are examined at a knee.',
    (f) => ({ resource: f.resource, entity: f.entity ?? '' }),
  );

  replace(
    box,
    h('div', { class: 'analysis-head' }, h('span', { class: 'analysis-headline' }, a.headline), badges),
    h('div', { class: 'tiles' }, tiles),
    a.limit ? h('p', { class: a.limit.generator ? 'limit-text generator' : 'limit-text', data: { limit: a.limit.resource } }, h('span', { class: 'dim' }, 'limit: '), a.limit.text) : null,
    k
      ? h(
          'div',
          { class: 'grid-2' },
          h('div', null, h('h3', { class: 'sub' }, 'Signs of saturation'), signals),
          h('div', null, h('h3', { class: 'sub' }, 'Resources at the knee (upper quartile from 1 s before to 6 s after)'), evidence),
        )
      : null,
    (a.notes ?? []).length ? h('ul', { class: 'notes' }, (a.notes ?? []).map((n) => h('li', null, n))) : null,
    h(
      'p',
      { class: 'analysis-foot dim small' },
      `computed ${fmtTime(a.computed_ms)} from the ${a.timeline_from === 'series' ? 'stored series (no final summary)' : "reporter's summary"}, ${a.seconds} s, ${a.resource_series} resource series` +
        (a.target_service ? ` of service ${a.target_service}` : '') +
        (a.lb_service ? ` and load balancer ${a.lb_service}` : '') +
        '. ',
      k ? h('a', { class: 'btn small', href: '#', on: { click: (ev) => (ev.preventDefault(), actions.pin(kneeX(k))) } }, 'pin the knee') : null,
      ' ',
      actions.recompute ? h('button', { class: 'btn small', type: 'button', on: { click: () => actions.recompute?.() } }, 'recompute') : null,
    ),
  );
}
