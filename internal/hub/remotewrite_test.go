package hub

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
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

func FuzzDecodeWriteRequest(f *testing.F) {
	f.Add(encodeWrite(f, []prompb.TimeSeries{series("up", []string{"host", "h1"}, prompb.Sample{Timestamp: 1, Value: 1})}))
	f.Add(snappy.Encode(nil, []byte{0x0a, 0x02, 0x0a, 0x00}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeWriteRequest(body, 1<<20)
		if err != nil {
			return
		}
		// Whatever is accepted must be valid for the store.
		for _, ts := range req.Timeseries {
			if err := validateSeriesLabels(ts.Labels); err != nil {
				t.Fatalf("accepted invalid series: %v", err)
			}
		}
		again, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeWriteRequest(snappy.Encode(nil, again), 1<<20); err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
	})
}

func TestDecodeWriteRequestBoundsMemory(t *testing.T) {
	// A tiny body that claims a huge decompressed size is refused before
	// anything is allocated for it.
	huge := snappy.Encode(nil, bytes.Repeat([]byte{0}, 2<<20))
	if _, err := decodeWriteRequest(huge, 1<<20); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("got %v", err)
	}
}
