package runs

import (
	"os"
	"path/filepath"
	"testing"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
)

func TestSecondsLogCutsTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seconds.log")
	l, err := openSecondsLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		rec := &brinkv1.PushSecondsRequest{RunId: "r", Source: "a", Seconds: []*brinkv1.Second{wire.SecondToProto(second(t0+i, "x", 5, 1), uint64(i+1))}}
		if err := l.append(rec); err != nil {
			t.Fatal(err)
		}
	}
	l.close()
	whole, _ := os.ReadFile(path)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"intact", whole, 3},
		{"last record cut short", whole[:len(whole)-3], 2},
		{"last record corrupted", append(append([]byte{}, whole[:len(whole)-1]...), whole[len(whole)-1]^0xff), 2},
		{"only a header", whole[:5], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := openSecondsLog(path)
			if err != nil {
				t.Fatal(err)
			}
			// A record appended after reopening follows the last good one.
			if err := l.append(&brinkv1.PushSecondsRequest{Source: "after"}); err != nil {
				t.Fatal(err)
			}
			l.close()
			n, last := 0, ""
			if _, err := scanSecondsLog(path, func(r *brinkv1.PushSecondsRequest) error { n++; last = r.Source; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != tt.want+1 || last != "after" {
				t.Fatalf("%d records, last from %q; want %d then the new one", n, last, tt.want)
			}
		})
	}
}

func FuzzScanSecondsLog(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.log")
	l, _ := openSecondsLog(path)
	_ = l.append(&brinkv1.PushSecondsRequest{RunId: "r", Source: "a", Seconds: []*brinkv1.Second{wire.SecondToProto(second(t0, "x", 5, 1), 1)}})
	l.close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "seconds.log")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		valid, err := scanSecondsLog(p, func(*brinkv1.PushSecondsRequest) error { return nil })
		if err != nil || valid < 0 || valid > int64(len(data)) {
			t.Fatalf("valid prefix %d of %d bytes, err %v", valid, len(data), err)
		}
	})
}
