package monitor

import (
	"testing"
	"time"
)

func TestTickStamp(t *testing.T) {
	sched := time.Unix(1700000000, 0)
	tests := []struct {
		name      string
		lag       time.Duration
		tolerance time.Duration
		want      time.Time
	}{
		{"on time within tolerance", 2 * time.Millisecond, 5 * time.Millisecond, sched},
		{"exactly at tolerance", 5 * time.Millisecond, 5 * time.Millisecond, sched},
		{"late keeps the real time", 40 * time.Millisecond, 5 * time.Millisecond, sched.Add(40 * time.Millisecond)},
		{"zero tolerance keeps the real time", time.Millisecond, 0, sched.Add(time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tickStamp(sched.Add(tt.lag), sched, tt.tolerance); !got.Equal(tt.want) {
				t.Fatalf("tickStamp = %v, want %v", got, tt.want)
			}
		})
	}
}
