// Package events is the hub's event list: things that happened at one
// instant (a run started or finished, a service was scaled, an agent was
// lost) that the UI draws as markers on the time axis. Any part of brink
// that runs inside the hub appends through (*Log).Append; the list is kept
// in a JSON-lines file under the hub's data directory and survives restarts.
package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Event kinds the hub itself writes. Other packages use their own kinds
// (scale_out, scale_in, agent_lost, ...).
const (
	KindHubStarted     = "hub_started"
	KindConfigReloaded = "config_reloaded"
	KindRunStarted     = "run_started"
	KindRunFinished    = "run_finished"
	KindRunAborted     = "run_aborted"
	KindRunLost        = "run_lost"
	// KindKnee marks where a run's saturation analysis placed its knee.
	KindKnee = "knee"
)

// Event is one thing that happened.
type Event struct {
	ID      int64             `json:"id"`
	TimeMs  int64             `json:"time_ms"`
	Kind    string            `json:"kind"`
	Run     string            `json:"run"`
	Service string            `json:"service"`
	Host    string            `json:"host"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Query selects events. Zero fields do not filter.
type Query struct {
	FromMs, ToMs             int64 // inclusive bounds on TimeMs
	Kind, Run, Service, Host string
	Limit                    int // newest first; 0 means 200
}

// Log is the persistent, bounded event list. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	path   string
	file   *os.File
	events []Event // ordered by ID
	nextID int64
	max    int
	now    func() time.Time
	subs   map[chan Event]struct{}
}

// Open loads the event list from path (creating it) and keeps at most max
// events, dropping the oldest when the file is rewritten.
func Open(path string, max int, now func() time.Time) (*Log, error) {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{path: path, max: max, now: now, nextID: 1, subs: map[chan Event]struct{}{}}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read event list %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		// A line cut short by a crash is the only way a line can be bad;
		// it and anything after it are dropped.
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID < l.nextID {
			break
		}
		l.events = append(l.events, e)
		l.nextID = e.ID + 1
	}
	if len(l.events) > max {
		l.events = slices.Clone(l.events[len(l.events)-max:])
	}
	if err := l.rewrite(); err != nil {
		return nil, err
	}
	return l, nil
}

// rewrite writes the in-memory list to a fresh file and reopens it for
// appending; it drops a torn last line and events beyond max.
func (l *Log) rewrite() error {
	var buf bytes.Buffer
	for _, e := range l.events {
		b, _ := json.Marshal(e)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write event list %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("replace event list %s: %w", l.path, err)
	}
	if l.file != nil {
		l.file.Close()
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open event list %s: %w", l.path, err)
	}
	l.file = f
	return nil
}

// Append stores e, giving it an id and, if it has none, the current time.
// It returns the stored event.
func (l *Log) Append(e Event) (Event, error) {
	if e.Kind == "" {
		return Event{}, errors.New("event without a kind")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return Event{}, errors.New("event list is closed")
	}
	e.ID = l.nextID
	if e.TimeMs == 0 {
		e.TimeMs = l.now().UnixMilli()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return Event{}, fmt.Errorf("encode event: %w", err)
	}
	if _, err := l.file.Write(append(b, '\n')); err != nil {
		return Event{}, fmt.Errorf("append to event list %s: %w", l.path, err)
	}
	l.nextID++
	l.events = append(l.events, e)
	if len(l.events) > l.max+l.max/4 {
		l.events = slices.Clone(l.events[len(l.events)-l.max:])
		if err := l.rewrite(); err != nil {
			return e, err
		}
	}
	for ch := range l.subs {
		select {
		case ch <- e:
		default: // a slow subscriber misses live events; it can list them
		}
	}
	return e, nil
}

// List returns the events matching q, newest first.
func (l *Log) List(q Query) []Event {
	limit := q.Limit
	if limit <= 0 {
		limit = 200
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for i := len(l.events) - 1; i >= 0 && len(out) < limit; i-- {
		e := l.events[i]
		switch {
		case q.FromMs != 0 && e.TimeMs < q.FromMs, q.ToMs != 0 && e.TimeMs > q.ToMs,
			q.Kind != "" && e.Kind != q.Kind, q.Run != "" && e.Run != q.Run,
			q.Service != "" && e.Service != q.Service, q.Host != "" && e.Host != q.Host:
			continue
		}
		out = append(out, e)
	}
	return out
}

// Subscribe delivers events appended from now on until ctx ends. Slow
// readers miss events rather than block appenders.
func (l *Log) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, 64)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
		close(ch)
	}()
	return ch
}

// Close closes the file; later appends fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}
