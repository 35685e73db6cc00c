package hub

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestRemoteWriteAuthAndValidation(t *testing.T) {
	th := startHub(t, Options{TokenFile: writeTokenFile(t, "s3cret")})
	now := time.Now().UnixMilli()
	good := encodeWrite(t, []prompb.TimeSeries{series("up", []string{"host", "h1"}, prompb.Sample{Timestamp: now, Value: 1})})
	unsorted := encodeWrite(t, []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "z", Value: "1"}, {Name: "__name__", Value: "up"}},
		Samples: []prompb.Sample{{Timestamp: now, Value: 1}}}})
	noName := encodeWrite(t, []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "host", Value: "h1"}},
		Samples: []prompb.Sample{{Timestamp: now, Value: 1}}}})
	// A valid series followed by an invalid one: nothing of the request may land.
	halfBad := encodeWrite(t, []prompb.TimeSeries{
		series("half_bad", []string{"host", "h1"}, prompb.Sample{Timestamp: now, Value: 1}),
		{Labels: []prompb.Label{{Name: "__name__", Value: "half_bad"}, {Name: "a", Value: "1"}, {Name: "a", Value: "2"}},
			Samples: []prompb.Sample{{Timestamp: now, Value: 1}}}})
	tests := []struct {
		name  string
		token string
		body  []byte
		code  int
		msg   string
	}{
		{"no token", "", good, http.StatusUnauthorized, "token is required"},
		{"wrong token", "guess", good, http.StatusUnauthorized, "token is required"},
		{"not snappy", "s3cret", []byte("hello, hub"), http.StatusBadRequest, "snappy"},
		{"not protobuf", "s3cret", snappy.Encode(nil, []byte{0xff, 0xff, 0xff}), http.StatusBadRequest, "WriteRequest"},
		{"labels out of order", "s3cret", unsorted, http.StatusBadRequest, "not sorted"},
		{"no metric name", "s3cret", noName, http.StatusBadRequest, "__name__"},
		{"one bad series spoils the request", "s3cret", halfBad, http.StatusBadRequest, "repeated"},
		{"good", "s3cret", good, http.StatusNoContent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := remoteWrite(t, th.url, tt.token, tt.body)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %d %q, want %d containing %q", code, msg, tt.code, tt.msg)
			}
		})
	}
	// Only the good request wrote anything.
	var names []string
	getJSON(t, th.url+"/api/v1/label/__name__/values", &names)
	if len(names) != 1 || names[0] != "up" {
		t.Fatalf("metric names in the store: %v", names)
	}
	// A Connect call without the token is refused too.
	resp, err := http.Post(th.url+"/brink.v1.RunService/StartRun", "application/json", strings.NewReader(`{"source":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("RunService without token: %d", resp.StatusCode)
	}
	// Reads need no token.
	var st Status
	getJSON(t, th.url+"/api/v1/status", &st)
	if !st.AuthRequired || st.Series != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestRemoteWriteRejectedSamplesAreReported(t *testing.T) {
	th := startHub(t, Options{OutOfOrderWindow: -1})
	now := time.Now().Truncate(time.Second).UnixMilli()
	if code, msg := remoteWrite(t, th.url, "", encodeWrite(t, []prompb.TimeSeries{series("c", nil, prompb.Sample{Timestamp: now, Value: 1})})); code != http.StatusNoContent {
		t.Fatalf("first write: %d %s", code, msg)
	}
	body := encodeWrite(t, []prompb.TimeSeries{
		series("c", nil, prompb.Sample{Timestamp: now - 5000, Value: 2}),
		series("d", nil, prompb.Sample{Timestamp: now, Value: 2}),
	})
	code, msg := remoteWrite(t, th.url, "", body)
	if code != http.StatusBadRequest || !strings.Contains(msg, "1 samples written") || !strings.Contains(msg, "out_of_order") {
		t.Fatalf("got %d %q", code, msg)
	}
}

func TestConfigReload(t *testing.T) {
	dir := t.TempDir()
	cfgPath := dir + "/hub.yaml"
	tokA, tokB := writeTokenFile(t, "alpha"), writeTokenFile(t, "beta")
	if err := os.WriteFile(cfgPath, []byte("auth:\n  token_files: ["+tokA+"]\nui:\n  lookback: 30s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	th := startHub(t, Options{ConfigFile: cfgPath})
	body := encodeWrite(t, []prompb.TimeSeries{series("up", nil, prompb.Sample{Timestamp: time.Now().UnixMilli(), Value: 1})})
	if code, _ := remoteWrite(t, th.url, "alpha", body); code != http.StatusNoContent {
		t.Fatalf("token alpha: %d", code)
	}
	if got := th.config().UI.Lookback.D(); got != 30*time.Second {
		t.Fatalf("lookback %v", got)
	}
	// A broken file leaves the running configuration alone.
	if err := os.WriteFile(cfgPath, []byte("ui:\n  lookbak: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := th.Reload()
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "lookbak") {
		t.Fatalf("reload of a typo: %v", err)
	}
	if code, _ := remoteWrite(t, th.url, "alpha", body); code != http.StatusNoContent {
		t.Fatalf("after failed reload, token alpha: %d", code)
	}
	// Rotating the token: beta replaces alpha.
	if err := os.WriteFile(cfgPath, []byte("auth:\n  token_files: ["+tokB+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := remoteWrite(t, th.url, "alpha", body); code != http.StatusUnauthorized {
		t.Fatalf("old token after rotation: %d", code)
	}
	if code, _ := remoteWrite(t, th.url, "beta", body); code != http.StatusNoContent {
		t.Fatalf("new token: %d", code)
	}
	if got := th.config().UI.Lookback.D(); got != 15*time.Second {
		t.Fatalf("lookback back to default: %v", got)
	}
}

// FuzzDecodeWriteRequest checks the hub's in-place decoder against the
// reference (prompb's generated code): whatever the hub accepts, the
// reference accepts too, with the same labels and samples; and no input
// makes it panic.
func FuzzDecodeWriteRequest(f *testing.F) {
	f.Add(encodeWrite(f, []prompb.TimeSeries{series("up", []string{"host", "h1"}, prompb.Sample{Timestamp: 1, Value: 1})}))
	f.Add(encodeWrite(f, []prompb.TimeSeries{series("up", []string{"empty", ""}, prompb.Sample{Timestamp: -5, Value: math.NaN()}),
		series("b", []string{"x", "1"}, prompb.Sample{Timestamp: 1, Value: 2}, prompb.Sample{Timestamp: 2, Value: 3})}))
	f.Add(snappy.Encode(nil, []byte{0x0a, 0x02, 0x0a, 0x00}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		ref, refErr := decodeWriteRequest(body, 1<<20)
		b := &rwBatch{}
		err := b.unsnappy(body, 1<<20)
		if err == nil {
			err = b.decode(b.raw, newSeriesCache(1<<10))
		}
		if err != nil {
			if refErr == nil {
				t.Logf("stricter than the reference: %v", err)
			}
			return
		}
		if refErr != nil {
			// The hub skips metadata, exemplars and native histograms
			// unparsed; the reference must agree once they are removed.
			raw, _ := snappy.Decode(nil, body)
			stripped, err := stripIgnoredFields(raw)
			if err != nil {
				t.Fatalf("accepted a request whose framing is broken: %v", err)
			}
			if ref, refErr = decodeWriteRequest(snappy.Encode(nil, stripped), 1<<20); refErr != nil {
				t.Fatalf("accepted what the reference refuses (%v)", refErr)
			}
		}
		i, start := 0, 0
		for _, ts := range ref.Timeseries {
			if len(ts.Samples) == 0 {
				continue
			}
			if i >= len(b.entries) {
				t.Fatalf("series %d missing", i)
			}
			var want labels.ScratchBuilder
			for _, l := range ts.Labels {
				if l.Value != "" {
					want.Add(l.Name, l.Value)
				}
			}
			if !labels.Equal(want.Labels(), b.entries[i].labels) {
				t.Fatalf("series %d: labels %v, want %v", i, b.entries[i].labels, want.Labels())
			}
			got := b.samples[start:b.ends[i]]
			if len(got) != len(ts.Samples) {
				t.Fatalf("series %d: %d samples, want %d", i, len(got), len(ts.Samples))
			}
			for j, s := range ts.Samples {
				if got[j].t != s.Timestamp || math.Float64bits(got[j].v) != math.Float64bits(s.Value) {
					t.Fatalf("series %d sample %d: %+v, want %+v", i, j, got[j], s)
				}
			}
			start = b.ends[i]
			i++
		}
		if i != len(b.entries) {
			t.Fatalf("%d series decoded, reference has %d with samples", len(b.entries), i)
		}
	})
}

// stripIgnoredFields removes what the hub does not read from a
// WriteRequest: metadata (3) and, in each series, exemplars (3) and
// histograms (4).
func stripIgnoredFields(req []byte) ([]byte, error) {
	var out []byte
	for len(req) > 0 {
		num, typ, n := protowire.ConsumeField(req)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		field := req[:n]
		req = req[n:]
		switch {
		case num == 3:
			continue
		case num == 1 && typ == protowire.BytesType:
			_, _, tn := protowire.ConsumeTag(field)
			ts, _ := protowire.ConsumeBytes(field[tn:])
			var keep []byte
			for len(ts) > 0 {
				fnum, _, fn := protowire.ConsumeField(ts)
				if fn < 0 {
					return nil, protowire.ParseError(fn)
				}
				if fnum != 3 && fnum != 4 {
					keep = append(keep, ts[:fn]...)
				}
				ts = ts[fn:]
			}
			out = protowire.AppendTag(out, 1, protowire.BytesType)
			out = protowire.AppendBytes(out, keep)
		default:
			out = append(out, field...)
		}
	}
	return out, nil
}

func TestDecodeWriteRequestBoundsMemory(t *testing.T) {
	// A tiny body that claims a huge decompressed size is refused before
	// anything is allocated for it.
	huge := snappy.Encode(nil, bytes.Repeat([]byte{0}, 2<<20))
	b := &rwBatch{}
	if err := b.unsnappy(huge, 1<<20); !errors.Is(err, errTooLarge) || cap(b.raw) != 0 {
		t.Fatalf("got %v, buffer of %d bytes", err, cap(b.raw))
	}
}

// decodeWriteRequest is the reference decoder: prompb's generated code
// plus the same validation. The hub's in-place decoder must agree with it.
func decodeWriteRequest(body []byte, maxBytes int64) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("body is not snappy-compressed (block format): %w", err)
	}
	if int64(n) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes decompressed, limit %d (remote_write.max_body_bytes)", errTooLarge, n, maxBytes)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("body is not snappy-compressed (block format): %w", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("body is not a remote-write 1.0 WriteRequest: %w", err)
	}
	for i := range req.Timeseries {
		if err := validateSeriesLabels(req.Timeseries[i].Labels); err != nil {
			return nil, fmt.Errorf("series %d: %w", i, err)
		}
	}
	return &req, nil
}

func validateSeriesLabels(ls []prompb.Label) error {
	if len(ls) == 0 {
		return errors.New("no labels")
	}
	hasName := false
	for i, l := range ls {
		if l.Name == "" || !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
			return fmt.Errorf("label %d: empty name or invalid UTF-8", i)
		}
		if i > 0 && ls[i-1].Name >= l.Name {
			return fmt.Errorf("labels not sorted by name or %q repeated", l.Name)
		}
		if l.Name == labels.MetricName {
			hasName = l.Value != ""
		}
	}
	if !hasName {
		return errors.New("no metric name (__name__)")
	}
	return nil
}
