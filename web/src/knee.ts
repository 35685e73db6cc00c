// How the UI writes a run's saturation analysis: the knee's load, its
// signs, the resources examined and the knee's marker on the time axis.
// Pure functions (no DOM), shared by the run, compare and cluster pages.

import type { Finding, HubEvent, Knee, KneeSignal, RunAnalysis } from './api';
import type { Marker } from './chart';
import { fmtBytes, fmtCores, fmtMs, fmtPct, fmtRps, isNum } from './format';

const dash = '–';

// kneeX is where the charts put the knee: the store keeps a second's load
// results at its end, so the knee second's points sit at unix + 1, and so
// does the hub's knee event.
export function kneeX(k: Pick<Knee, 'unix'>): number {
  return k.unix + 1;
}

// fmtOffered writes an offered load as the analysis measures it: whole
// iterations/s (or VUs) from 100 up, one decimal below.
export function fmtOffered(v: number | null | undefined, unit: string, short = false): string {
  if (!isNum(v)) return dash;
  const digits = Math.abs(v) >= 100 ? 0 : 1;
  const n = v.toLocaleString('en-US', { maximumFractionDigits: digits });
  const u = short && unit === 'iterations/s' ? 'it/s' : unit;
  return u ? `${n} ${u}` : n;
}

// kneeLabel is the knee's short label on a chart: "knee 310 it/s".
export function kneeLabel(k: Pick<Knee, 'offered' | 'offered_unit'>, prefix = ''): string {
  return `${prefix}knee ${fmtOffered(k.offered, k.offered_unit, true)}`;
}

// kneeMarker is the marker of an analysis' knee (null without one). shift
// moves it onto a relative axis (the compare view: seconds since start).
export function kneeMarker(a: RunAnalysis | null | undefined, opts: { shift?: number; prefix?: string; color?: string } = {}): Marker | null {
  const k = a?.knee;
  if (!k) return null;
  return { t: kneeX(k) - (opts.shift ?? 0), kind: 'knee', text: kneeLabel(k, opts.prefix), title: a.headline, color: opts.color };
}

// kneeEventLabel is a knee event's label: the same as the analysis' marker
// when the event carries the load, else plainly "knee".
export function kneeEventLabel(e: Pick<HubEvent, 'fields'>): string {
  const offered = Number(e.fields?.offered);
  if (!e.fields?.offered || !Number.isFinite(offered)) return 'knee';
  return kneeLabel({ offered, offered_unit: e.fields.offered_unit ?? '' });
}

export function signalName(kind: string): string {
  switch (kind) {
    case 'throughput':
      return 'throughput stopped rising';
    case 'latency':
      return 'latency turned up';
    case 'errors':
      return 'errors began';
    default:
      return kind;
  }
}

// signalValue writes a sign's figure (and its low-load baseline) in its
// own unit: good req/s, p95 in ms, or an error rate.
export function signalValue(s: Pick<KneeSignal, 'kind'>, v: number | null | undefined): string {
  switch (s.kind) {
    case 'throughput':
      return fmtRps(v);
    case 'latency':
      return fmtMs(v);
    case 'errors':
      return fmtPct(v);
    default:
      return isNum(v) ? String(v) : dash;
  }
}

export function resourceName(resource: string): string {
  switch (resource) {
    case 'target_cpu':
      return 'target CPU';
    case 'target_memory':
      return 'target memory';
    case 'host_cpu':
      return 'host CPU';
    case 'lb_cpu':
      return 'load balancer CPU';
    case 'generator_cpu':
      return 'load generator CPU';
    case 'generator_vus':
      return 'load generator VU pool';
    case 'generator_jitter':
      return 'load generator schedule';
    case 'unknown':
      return 'unknown';
    default:
      return resource;
  }
}

// findingFigure writes a finding's used or limit figure in the resource's
// unit (cores, bytes, dropped iterations/s, ms of lateness). A limit of 0
// is no limit.
export function findingFigure(f: Pick<Finding, 'resource'>, v: number | null | undefined, isLimit = false): string {
  if (!isNum(v) || (isLimit && v <= 0)) return dash;
  switch (f.resource) {
    case 'target_cpu':
    case 'lb_cpu':
    case 'host_cpu':
    case 'generator_cpu':
      return fmtCores(v);
    case 'target_memory':
      return fmtBytes(v);
    case 'generator_vus':
      return `${v.toLocaleString('en-US', { maximumFractionDigits: 2 })} dropped/s`;
    case 'generator_jitter':
      return fmtMs(v);
    default:
      return String(v);
  }
}
