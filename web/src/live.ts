// The hub's Server-Sent Events stream (/api/v1/stream): a tick every second
// and every event as it is appended. One connection serves the whole app;
// the browser's EventSource reconnects by itself after an error.

import type { HubEvent, Tick } from './api';

export type StreamState = 'connecting' | 'open' | 'error';

export interface StreamListener {
  tick?: (t: Tick) => void;
  event?: (e: HubEvent) => void;
  state?: (s: StreamState) => void;
}

export class LiveStream {
  private source: EventSource | null = null;
  private readonly listeners = new Set<StreamListener>();
  state: StreamState = 'connecting';
  lastTick: Tick | null = null;

  start(): void {
    if (this.source) return;
    const es = new EventSource('/api/v1/stream');
    this.source = es;
    es.addEventListener('open', () => this.setState('open'));
    es.addEventListener('error', () => this.setState(es.readyState === EventSource.CLOSED ? 'error' : 'connecting'));
    es.addEventListener('tick', (ev) => {
      const t = parse<Tick>(ev);
      if (!t) return;
      this.lastTick = t;
      this.setState('open');
      for (const l of this.listeners) l.tick?.(t);
    });
    es.addEventListener('event', (ev) => {
      const e = parse<HubEvent>(ev);
      if (!e) return;
      for (const l of this.listeners) l.event?.(e);
    });
  }

  stop(): void {
    this.source?.close();
    this.source = null;
  }

  subscribe(l: StreamListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private setState(s: StreamState): void {
    if (s === this.state) return;
    this.state = s;
    for (const l of this.listeners) l.state?.(s);
  }
}

function parse<T>(ev: Event): T | null {
  try {
    return JSON.parse((ev as MessageEvent<string>).data) as T;
  } catch {
    // A malformed frame is dropped; the next tick comes a second later.
    return null;
  }
}
