package events

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAppendListReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	clock := time.Unix(1000, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	l, err := Open(path, 10, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		kind := KindRunStarted
		if i%2 == 1 {
			kind = "scale_out"
		}
		if _, err := l.Append(Event{Kind: kind, Run: "r1", Service: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		q     Query
		want  int
		first int64
	}{
		{"all (bounded to max+max/4)", Query{}, 12, 15},
		{"limit", Query{Limit: 3}, 3, 15},
		{"kind", Query{Kind: "scale_out"}, 6, 14},
		{"time window", Query{FromMs: 1_006_000, ToMs: 1_008_000}, 3, 8},
		{"other service", Query{Service: "db"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.List(tt.q)
			if len(got) != tt.want || (tt.want > 0 && got[0].ID != tt.first) {
				t.Fatalf("got %d events, first %+v; want %d, first id %d", len(got), got, tt.want, tt.first)
			}
		})
	}
	l.Close()
	// A crash mid-write leaves a torn last line: it is dropped on reopen.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"id":16,"time_`)
	f.Close()
	l, err = Open(path, 10, now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := l.List(Query{Limit: 100})
	if len(got) != 10 || got[0].ID != 15 || got[9].ID != 6 {
		t.Fatalf("after reopen: %d events, newest %d", len(got), got[0].ID)
	}
	e, err := l.Append(Event{Kind: KindRunFinished})
	if err != nil || e.ID != 16 {
		t.Fatalf("append after reopen: %+v %v", e, err)
	}
}

func TestSubscribeReceivesAppends(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "e.jsonl"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch := l.Subscribe(ctx)
	if _, err := l.Append(Event{Kind: "agent_lost", Host: "h1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ch:
		if e.Kind != "agent_lost" || e.Host != "h1" || e.ID != 1 {
			t.Fatalf("got %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event delivered")
	}
	cancel()
	for range ch { // closed after cancel
	}
	if _, err := l.Append(Event{}); err == nil {
		t.Fatal("event without kind accepted")
	}
}
