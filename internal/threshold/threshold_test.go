package threshold

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		expr string
		want Threshold
	}{
		{"p95<200ms", Threshold{Metric: "p95", Op: "<", Limit: 200, Kind: Latency}},
		{"p99<=1s", Threshold{Metric: "p99", Op: "<=", Limit: 1000, Kind: Latency}},
		{"p50 < 1.5s", Threshold{Metric: "p50", Op: "<", Limit: 1500, Kind: Latency}},
		{"p90<250", Threshold{Metric: "p90", Op: "<", Limit: 250, Kind: Latency}},
		{"p99.9<2s", Threshold{Metric: "p99.9", Op: "<", Limit: 2000, Kind: Latency}},
		{"mean<50ms", Threshold{Metric: "mean", Op: "<", Limit: 50, Kind: Latency}},
		{"max<1m", Threshold{Metric: "max", Op: "<", Limit: 60000, Kind: Latency}},
		{"min>=500us", Threshold{Metric: "min", Op: ">=", Limit: 0.5, Kind: Latency}},
		{"p95<800µs", Threshold{Metric: "p95", Op: "<", Limit: 0.8, Kind: Latency}},
		{"P95<200ms", Threshold{Metric: "p95", Op: "<", Limit: 200, Kind: Latency}},
		{"p95 < 200 ms", Threshold{Metric: "p95", Op: "<", Limit: 200, Kind: Latency}},
		{"ttfb_p95<100ms", Threshold{Metric: "ttfb_p95", Op: "<", Limit: 100, Kind: Latency}},
		{"error_rate<1%", Threshold{Metric: "error_rate", Op: "<", Limit: 0.01, Kind: Ratio}},
		{"error_rate<=0.05", Threshold{Metric: "error_rate", Op: "<=", Limit: 0.05, Kind: Ratio}},
		{"error_rate==0%", Threshold{Metric: "error_rate", Op: "==", Limit: 0, Kind: Ratio}},
		{"rps>500", Threshold{Metric: "rps", Op: ">", Limit: 500, Kind: Rate}},
		{"rps>=1_000/s", Threshold{Metric: "rps", Op: ">=", Limit: 1000, Kind: Rate}},
		{"failures<10", Threshold{Metric: "failures", Op: "<", Limit: 10, Kind: Count}},
		{"dropped==0", Threshold{Metric: "dropped", Op: "==", Limit: 0, Kind: Count}},
		{"requests>100000", Threshold{Metric: "requests", Op: ">", Limit: 100000, Kind: Count}},
		{"iterations>=10", Threshold{Metric: "iterations", Op: ">=", Limit: 10, Kind: Count}},
		{"p95{name=login}<300ms", Threshold{Metric: "p95", Op: "<", Limit: 300, Kind: Latency, Name: "login"}},
		{`p95{name="log in, then {pay}"}<300ms`, Threshold{Metric: "p95", Op: "<", Limit: 300, Kind: Latency, Name: "log in, then {pay}"}},
		{`p95{ name = "a\"b" }<1s`, Threshold{Metric: "p95", Op: "<", Limit: 1000, Kind: Latency, Name: `a"b`}},
		{"error_rate{name=search}<0.5%", Threshold{Metric: "error_rate", Op: "<", Limit: 0.005, Kind: Ratio, Name: "search"}},
		{"failures{kind=timeout}<5", Threshold{Metric: "failures", Op: "<", Limit: 5, Kind: Count, FailureKind: "timeout"}},
		{"failures{name=login,kind=http_5xx}==0", Threshold{Metric: "failures", Op: "==", Limit: 0, Kind: Count, Name: "login", FailureKind: "http_5xx"}},
		{"  rps > 10  ", Threshold{Metric: "rps", Op: ">", Limit: 10, Kind: Rate}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			tt.want.Expr = strings.TrimSpace(tt.expr)
			if got != tt.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr   string
		column int
		msg    string
	}{
		{"", 1, "expected a metric"},
		{"p96<200ms", 1, `unknown metric "p96"`},
		{"latency<200ms", 1, "unknown metric"},
		{"p95", 4, "expected a comparison"},
		{"p95 200ms", 5, "expected a comparison"},
		{"p95=200ms", 4, "use =="},
		{"p95<", 5, "expected a number"},
		{"p95<-1ms", 5, "cannot be negative"},
		{"p95<200mss", 8, `unknown duration unit "mss"`},
		{"p95<200ms extra", 11, `unexpected "extra"`},
		{"p95<1.2.3s", 5, "not a number"},
		{"error_rate<1ms", 13, "percentage"},
		{"error_rate<150%", 12, "cannot exceed 100%"},
		{"rps>500ms", 8, "requests per second"},
		{"failures<1.5", 10, "whole number"},
		{"dropped==0%", 11, "no unit"},
		{"p95{name=login<300ms", 4, "unclosed '{'"},
		{"p95{}<1s", 5, "empty scope"},
		{"p95{host=a}<1s", 5, `unknown scope key "host"`},
		{"p95{name}<1s", 9, "expected '='"},
		{"p95{name=}<1s", 10, `empty value for "name"`},
		{"p95{name=a b}<1s", 12, "expected ',' or '}'"},
		{`p95{name="abc}<1s`, 10, "unterminated quoted value"},
		{"p95{name=a,name=b}<1s", 12, "name given twice"},
		{"dropped{name=login}==0", 9, "cannot be scoped"},
		{"p95{kind=timeout}<1s", 5, "kind scopes only the failures"},
		{"failures{kind=slow}<1", 15, "unknown failure kind"},
		// Columns count characters, not bytes: "µ" is two bytes.
		{"p95{name=µ}<1µz", 14, `unknown duration unit "µz"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error at column %d", tt.expr, tt.column)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not a *ParseError", tt.expr, err)
			}
			if pe.Column != tt.column || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("Parse(%q) = column %d %q, want column %d containing %q", tt.expr, pe.Column, pe.Msg, tt.column, tt.msg)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.expr)) {
				t.Errorf("error %q does not quote the expression", err)
			}
		})
	}
}

func TestParseAllStopsAtFirstError(t *testing.T) {
	ts, err := ParseAll([]string{"p95<1s", "rps>1"})
	if err != nil || len(ts) != 2 {
		t.Fatalf("ParseAll = %v, %v", ts, err)
	}
	if _, err := ParseAll([]string{"p95<1s", "bogus<1"}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("ParseAll with a bad expression: err = %v", err)
	}
}

func TestStringRoundTrips(t *testing.T) {
	tests := []struct{ expr, canonical string }{
		{"p95<200ms", "p95<200ms"},
		{"p99 <= 1500ms", "p99<=1.5s"},
		{"min>500us", "min>500µs"},
		{"error_rate<0.01", "error_rate<1%"},
		{"rps>=1_000", "rps>=1000/s"},
		{`p95{name="a b"}<1s`, `p95{name="a b"}<1s`},
		{"failures{name=x,kind=reset}==0", "failures{name=x,kind=reset}==0"},
		{"p95<0.3s", "p95<300ms"},
	}
	for _, tt := range tests {
		th, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		if got := th.String(); got != tt.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.expr, got, tt.canonical)
		}
		again, err := Parse(th.String())
		if err != nil {
			t.Fatalf("re-parsing %q: %v", th.String(), err)
		}
		again.Expr = th.Expr
		if again != th {
			t.Errorf("round trip of %q: %+v != %+v", tt.expr, again, th)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"p95<200ms", "p99<=1s", "error_rate<1%", "rps>500", "failures<10", "dropped==0",
		`p95{name="a,b"}<300ms`, "failures{kind=timeout}<5", "p99.9<2s", "ttfb_p50 < 3 ms", "p95{name=µ}<1µs",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := Parse(expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Column < 1 || pe.Column > len([]rune(expr))+1 {
				t.Fatalf("column %d outside %q", pe.Column, expr)
			}
			return
		}
		again, err := Parse(th.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", th.String(), expr, err)
		}
		if again.Metric != th.Metric || again.Op != th.Op || again.Name != th.Name || again.FailureKind != th.FailureKind {
			t.Fatalf("round trip of %q changed it: %+v != %+v", expr, again, th)
		}
	})
}
