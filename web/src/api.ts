// Typed client for the hub's HTTP API (docs/api.md). Every answer under
// /api/v1/ uses Prometheus' envelope, so one decoder serves all of them.

export interface Host {
  host: string;
  cpus: number | null;
  cpu_used_cores: number | null;
  cpu_utilization: number | null;
  memory_total_bytes: number | null;
  memory_available_bytes: number | null;
  memory_used_bytes: number | null;
  network_receive_bytes_per_second: number | null;
  network_transmit_bytes_per_second: number | null;
  load1: number | null;
  containers: number;
  last_seen_ms: number | null;
}

export interface Container {
  id: string;
  name: string;
  image: string;
  host: string;
  service: string;
  cpu_cores: number | null;
  cpu_limit_cores: number | null;
  cpu_throttled_ratio: number | null;
  memory_working_set_bytes: number | null;
  memory_limit_bytes: number | null;
  network_receive_bytes_per_second: number | null;
  network_transmit_bytes_per_second: number | null;
  last_seen_ms: number | null;
}

export interface ContainerGroup {
  key: string;
  containers: Container[];
}

export interface Service {
  service: string;
  replicas: number;
  hosts: string[];
  cpu_cores: number | null;
  cpu_limit_cores: number | null;
  memory_working_set_bytes: number | null;
  memory_limit_bytes: number | null;
  rps: number | null;
  runs: string[];
  containers: string[];
}

export interface LatencyMs {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p99_9: number;
  max: number;
}

export interface Totals {
  requests: number;
  failures: number;
  rps: number | null;
  error_rate: number | null;
  latency_ms?: LatencyMs | null;
}

export interface RunSource {
  source: string;
  status: string;
  seconds: number;
  last_second_ms: number | null;
}

export interface ThresholdResult {
  expr: string;
  metric: string;
  actual: number;
  limit: number;
  ok: boolean;
}

export interface Run {
  id: string;
  name: string;
  scenario?: string;
  target_service: string;
  labels: Record<string, string> | null;
  status: 'running' | 'finished' | 'aborted' | 'lost' | string;
  started_ms: number;
  ended_ms: number | null;
  last_second_ms: number | null;
  sources: RunSource[] | null;
  thresholds_ok: boolean | null;
  thresholds: ThresholdResult[] | null;
  aborted: boolean;
  totals: Totals | null;
  names: string[] | null;
  by_name?: Record<string, Totals> | null;
  summary?: unknown;
  analysis?: RunAnalysis | null;
}

// The saturation analysis of a run (docs/analysis.md, GET
// /api/v1/runs/<id>/analysis): the knee, the limiting resource there and
// every resource examined.
export interface KneeSignal {
  kind: 'throughput' | 'latency' | 'errors' | string;
  unix: number; // the second it began
  t: number; // seconds since the run's start
  offered: number;
  value: number; // good req/s, p95 ms or error rate
  baseline: number;
  text: string;
}

export interface Knee {
  unix: number;
  t: number;
  offered: number;
  offered_unit: string; // "iterations/s" or "VUs"
  throughput_rps: number;
  cause: string;
  signals: KneeSignal[];
  saturated_throughout?: boolean;
}

export interface Finding {
  resource: string;
  entity?: string;
  used: number;
  limit?: number;
  utilization: number;
  throttled_ratio?: number;
  saturated: boolean;
  text: string;
}

export interface Limit {
  resource: string;
  entity?: string;
  generator: boolean;
  text: string;
}

export interface RunAnalysis {
  run: string;
  computed_ms: number;
  final: boolean;
  kept: boolean;
  target_service: string;
  service_chosen?: boolean;
  lb_service: string;
  timeline_from: string;
  seconds: number;
  resource_series: number;
  headline: string;
  model: string;
  max_sustained_rps: number;
  max_sustained_unix: number;
  max_sustained_window_s: number;
  load_varied: boolean;
  knee: Knee | null;
  limit: Limit | null;
  findings: Finding[] | null;
  notes: string[] | null;
}

export interface LatencyWindow {
  run: string;
  name: string;
  from_ms: number;
  to_ms: number;
  seconds: number;
  count: number;
  min_us: number | null;
  max_us: number | null;
  mean_us: number | null;
  quantiles: { q: number; us: number | null }[];
}

export interface HubEvent {
  id: number;
  time_ms: number;
  kind: string;
  run: string;
  service: string;
  host: string;
  message: string;
  fields: Record<string, string> | null;
}

export interface Status {
  version: string;
  started_ms: number;
  now_ms: number;
  series: number;
  head_min_time_ms: number;
  head_max_time_ms: number;
  samples_appended_total: number;
  auth_required?: boolean;
  ui_built: boolean;
}

// An agent as GET /api/v1/agents lists it (docs/agents.md). rps is the
// requests of its last reported second; cpu is the share of the cores it
// may use (0..1).
export interface Agent {
  name: string;
  labels: Record<string, string>;
  version: string;
  same_version: boolean;
  hostname: string;
  cores: number;
  link: 'connected' | 'disconnected' | 'lost' | string;
  state: string;
  run: string;
  cpu: number;
  vus: number;
  rps: number;
  failures: number;
  dropped: number;
  target_rate: number;
  saturated: boolean;
  saturation_reason?: string;
  error?: string;
  first_seen_ms: number;
  last_seen_ms: number;
  silent_ms: number;
  produced_seconds: number;
  acked_seconds: number;
}

export interface RunAgent extends Agent {
  index: number;
  load_moved: boolean;
}

export interface RunAgentEvent {
  time_ms: number;
  kind: string;
  agent?: string;
  message: string;
}

// A distributed run's agents and timeline (GET /api/v1/runs/<id>/agents).
export interface RunAgents {
  run: string;
  state: 'starting' | 'running' | 'stopping' | 'settling' | 'finished' | 'aborted' | string;
  on_agent_loss: string;
  start_ms: number;
  start_skew_ms: number | null;
  clock_uncertainty_ms: number;
  aborted: boolean;
  abort_reason?: string;
  agents: RunAgent[];
  events: RunAgentEvent[];
  complete: boolean | null;
}

export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface Tick {
  now_ms: number;
  head_max_time_ms: number;
  samples_appended_total: number;
  series: number;
  runs: {
    id: string;
    status: string;
    last_second_ms: number | null;
    rps: number | null;
    failures: number | null;
    p95_ms: number | null;
    vus: number | null;
  }[];
}

export class ApiError extends Error {
  constructor(
    readonly path: string,
    readonly httpStatus: number,
    readonly errorType: string,
    detail: string,
  ) {
    super(`${path}: ${detail} (HTTP ${httpStatus}${errorType ? `, ${errorType}` : ''})`);
  }
}

type Params = Record<string, string | number | boolean | null | undefined | string[]>;

export function apiURL(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.set(k, String(v));
  }
  const qs = q.toString();
  return `/api/v1/${path}${qs ? `?${qs}` : ''}`;
}

export async function get<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const url = apiURL(path, params);
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(url, 0, 'unavailable', `the hub did not answer (${String(err)})`);
  }
  let body: { status?: string; data?: T; error?: string; errorType?: string };
  try {
    body = await res.json();
  } catch {
    throw new ApiError(url, res.status, '', 'the answer was not JSON');
  }
  if (!res.ok || body.status !== 'success') {
    throw new ApiError(url, res.status, body.errorType ?? '', body.error ?? res.statusText);
  }
  return body.data as T;
}

// stopRun asks the hub to stop a distributed run on every agent. The stop
// endpoint is guarded by the hub's writer token when it has one; its refusal
// is plain text, not the JSON envelope.
export async function stopRun(id: string, opts: { abort: boolean; token: string }): Promise<void> {
  const url = apiURL(`runs/${encodeURIComponent(id)}/stop`, { abort: opts.abort ? 1 : undefined });
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers });
  } catch (err) {
    throw new ApiError(url, 0, 'unavailable', `the hub did not answer (${String(err)})`);
  }
  if (res.ok) return;
  const text = (await res.text().catch(() => '')).trim();
  let detail = text || res.statusText;
  try {
    const body = JSON.parse(text) as { error?: string; errorType?: string };
    if (body.error) detail = body.error;
  } catch {
    // A plain-text answer (the token check's) is shown as it is.
  }
  throw new ApiError(url, res.status, res.status === 401 ? 'unauthorized' : '', detail);
}

export const api = {
  agents: (signal?: AbortSignal) => get<{ agents: Agent[]; now_ms: number }>('agents', {}, signal),
  runAgents: (id: string, signal?: AbortSignal) => get<RunAgents>(`runs/${encodeURIComponent(id)}/agents`, {}, signal),
  status: (signal?: AbortSignal) => get<Status>('status', {}, signal),
  hosts: (time: number | null, signal?: AbortSignal) =>
    get<{ time_ms: number; hosts: Host[] }>('hosts', { time: time ?? undefined }, signal),
  containers: (time: number | null, group: 'host' | 'service', filter: { service?: string; host?: string } = {}, signal?: AbortSignal) =>
    get<{ time_ms: number; group: string; groups: ContainerGroup[] }>(
      'containers',
      { time: time ?? undefined, group, ...filter },
      signal,
    ),
  services: (time: number | null, signal?: AbortSignal) =>
    get<{ time_ms: number; services: Service[] }>('services', { time: time ?? undefined }, signal),
  runs: (params: { q?: string; status?: string; service?: string; limit?: number }, signal?: AbortSignal) =>
    get<{ runs: Run[]; more: boolean }>('runs', params, signal),
  run: (id: string, signal?: AbortSignal) => get<Run>(`runs/${encodeURIComponent(id)}`, {}, signal),
  latency: (id: string, from: number, to: number, signal?: AbortSignal) =>
    get<LatencyWindow>(
      `runs/${encodeURIComponent(id)}/latency`,
      { from, to, q: '0.5,0.9,0.95,0.99,0.999,1' },
      signal,
    ),
  analysis: (id: string, opts: { refresh?: boolean; service?: string } = {}, signal?: AbortSignal) =>
    get<RunAnalysis>(`runs/${encodeURIComponent(id)}/analysis`, { refresh: opts.refresh ? 1 : undefined, service: opts.service }, signal),
  events: (params: { from?: number; to?: number; run?: string; service?: string; kind?: string; limit?: number }, signal?: AbortSignal) =>
    get<{ events: HubEvent[] }>('events', params, signal),
  queryRange: (query: string, start: number, end: number, step: number, lookback: string, signal?: AbortSignal) =>
    get<{ resultType: string; result: MatrixSeries[] }>(
      'query_range',
      { query, start, end, step, lookback_delta: lookback },
      signal,
    ),
};

export function exportURL(query: string, start: number, end: number, step: number, format: 'csv' | 'json'): string {
  return apiURL('export', { query, start, end, step, format });
}

// promString quotes a label value for a PromQL selector. Label values are
// untrusted; PromQL strings use Go's escaping, so backslash, quote and
// control characters are escaped.
export function promString(v: string): string {
  return JSON.stringify(v);
}
