package output

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/results"
)

func TestWriteSummaryTable(t *testing.T) {
	s := fixtureSummary(t)
	var buf bytes.Buffer
	WriteSummaryTable(&buf, s)
	golden(t, "summary_table.golden", buf.Bytes())

	// The table (header to overall row) fits 80 columns; the one name too
	// long for its column sits on a line of its own.
	lines := strings.Split(buf.String(), "\n")
	inTable := false
	for _, l := range lines {
		if strings.HasPrefix(l, "name ") {
			inTable = true
		}
		if inTable && strings.HasPrefix(l, "GET http://") {
			continue
		}
		if inTable {
			if n := utf8.RuneCountInString(l); n > TerminalWidth {
				t.Errorf("table line is %d characters wide: %q", n, l)
			}
		}
		if strings.HasPrefix(l, "all requests") {
			break
		}
	}
	for _, want := range []string{
		"✗ p95<20ms",
		"✓ error_rate<1%          error_rate = 0.93%",
		"✓ rps>200                rps = 251/s",
		"✓ p99{name=search}<50ms  p99 = 49.2ms",
		`✗ p95{name=logout}<1s    no requests named "logout"`,
		"✗ dropped==0             dropped = 4",
		"login: 4 of 600 (0.67%): timeout 1, http_5xx 3",
		"3 of 6 thresholds failed",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

func TestWriteSummaryTableEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		summary func() *results.Summary
		want    []string
		notWant []string
	}{
		{
			name: "no requests at all",
			summary: func() *results.Summary {
				acc := results.NewAccumulator(fixtureStart)
				acc.Add(results.NewSecond(fixtureStart.Unix()))
				s := acc.Summary()
				return &s
			},
			want:    []string{"0 requests", "all requests        0 0.0      0   -   -   -   -   -       0B"},
			notWant: []string{"failures\n", "thresholds"},
		},
		{
			name: "aborted long run, all thresholds held",
			summary: func() *results.Summary {
				acc := results.NewAccumulator(fixtureStart)
				acc.Add(fixtureSecond(0))
				acc.SetEnd(fixtureStart.Add(2*time.Hour + 3*time.Minute + 4*time.Second))
				s := acc.Summary()
				s.Aborted = true
				s.Thresholds = []results.ThresholdResult{{Expr: "rps>0", Metric: "rps", Actual: 0.02, Limit: 0, OK: true}}
				return &s
			},
			want: []string{"run aborted after 2h03m04s", "✓ rps>0  rps = 0.0/s", "all 1 thresholds held"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			WriteSummaryTable(&buf, tt.summary())
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("summary lacks %q:\n%s", w, buf.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(buf.String(), w) {
					t.Errorf("summary should not contain %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{FormatMs(0), "0"},
		{FormatMs(0.0004), "0µs"},
		{FormatMs(0.523), "523µs"},
		{FormatMs(0.9996), "1.00ms"},
		{FormatMs(1.2), "1.20ms"},
		{FormatMs(9.996), "10.0ms"},
		{FormatMs(12.34), "12.3ms"},
		{FormatMs(99.96), "100ms"},
		{FormatMs(123.4), "123ms"},
		{FormatMs(999.6), "1.00s"},
		{FormatMs(1234), "1.23s"},
		{FormatMs(12345), "12.3s"},
		{FormatCount(0), "0"},
		{FormatCount(999), "999"},
		{FormatCount(1000), "1,000"},
		{FormatCount(1234567), "1,234,567"},
		{FormatCount(-1234), "-1,234"},
		{FormatRate(0), "0.0"},
		{FormatRate(12.345), "12.3"},
		{FormatRate(99.96), "100"},
		{FormatRate(10234.4), "10,234"},
		{FormatPercent(0.012345), "1.23%"},
		{FormatPercent(1), "100.00%"},
		{FormatBytes(0), "0B"},
		{FormatBytes(999), "999B"},
		{FormatBytes(1000), "1.00kB"},
		{FormatBytes(12_345), "12.3kB"},
		{FormatBytes(999_960), "1.00MB"},
		{FormatBytes(123_456_789), "123MB"},
		{FormatBytes(5_000_000_000_000), "5.00TB"},
		{FormatSeconds(0), "0s"},
		{FormatSeconds(59), "59s"},
		{FormatSeconds(125), "2m05s"},
		{FormatSeconds(3723), "1h02m03s"},
		{FormatSeconds(-3), "0s"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
