package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/load"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/results"
)

const (
	// analysisTimeout bounds the range queries of one run's analysis, so
	// that a hub that stops answering cannot hold the command up.
	analysisTimeout = 30 * time.Second
	// monitorLag is how long after a second ends the monitors' samples of
	// it are in the hub: a monitor pushes once a second, and its sample at
	// T+1 describes the second T.
	monitorLag = 2500 * time.Millisecond
)

// minAnalysisSeconds is the shortest run whose knee can be found: the
// smoothing window plus the seconds a sign must hold.
func minAnalysisSeconds() int {
	o := analysis.DefaultOptions()
	return o.Smooth + o.Sustain
}

// analyzeRun prints the saturation analysis of a run reported to the hub
// at hubURL and returns it; it returns nil, after one line saying why,
// when the run cannot be analysed. It never fails the run.
func analyzeRun(ctx context.Context, w io.Writer, hubURL string, s *results.Summary, info load.RunInfo, sampler *analysis.GeneratorSampler) *analysis.Result {
	if n := len(s.Timeline); n < minAnalysisSeconds() {
		fmt.Fprintf(w, "\nsaturation analysis: skipped: the run has %d seconds of results; finding a knee takes at least %d\n",
			n, minAnalysisSeconds())
		return nil
	}
	opts := analysis.RunOptions{TargetService: s.TargetService, Generator: generatorSeries(info, sampler)}
	if j := info.Jitter; j != nil && j.Count() > 0 {
		opts.GeneratorJitterP99Ms = results.Ms(j.Quantile(0.99))
	}
	// The monitors' samples of the last seconds arrive a moment after the
	// run; a knee near the end needs them.
	lastEnd := time.Unix(s.Timeline[len(s.Timeline)-1].Unix+1, 0)
	wait := time.NewTimer(max(time.Until(lastEnd.Add(monitorLag)), 0))
	defer wait.Stop()
	select {
	case <-ctx.Done():
		fmt.Fprintln(w, "\nsaturation analysis: skipped: interrupted")
		return nil
	case <-wait.C:
	}
	qctx, cancel := context.WithTimeout(ctx, analysisTimeout)
	defer cancel()
	_, res, err := analysis.ForRun(qctx, analysis.NewHub(hubURL), s, opts)
	if err != nil {
		fmt.Fprintf(w, "\nsaturation analysis: skipped: %v\n", err)
		return nil
	}
	fmt.Fprintln(w)
	_ = res.WriteText(w) // stdout: nothing better to do with its error than the other lines do
	if s.TargetService == "" {
		fmt.Fprintln(w, "  note: no --service (or target_service:) was given: the target's containers were not examined")
	}
	return &res
}

// generatorSeries are this process's own series for the analysis: its CPU
// and the cores it may use each second, and how late it started the open
// model's iterations each second.
func generatorSeries(info load.RunInfo, sampler *analysis.GeneratorSampler) []analysis.Series {
	var out []analysis.Series
	if sampler != nil {
		out = sampler.Series()
	}
	if len(info.JitterBySecond) > 0 {
		js := analysis.Series{Name: analysis.GeneratorJitterP99, Points: make([]analysis.Point, 0, len(info.JitterBySecond))}
		for _, j := range info.JitterBySecond {
			js.Points = append(js.Points, analysis.Point{T: j.T, V: float64(j.P99) / float64(time.Millisecond)})
		}
		out = append(out, js)
	}
	return out
}

// summaryWithAnalysis is the summary JSON of a run that was analysed: the
// summary's keys, then "analysis".
type summaryWithAnalysis struct {
	results.Summary
	Analysis *analysis.Result `json:"analysis"`
}

// writeSummaryJSON writes the summary (`--out json=PATH`), with the
// saturation analysis when there is one.
func writeSummaryJSON(path string, s *results.Summary, res *analysis.Result) error {
	if res == nil {
		return output.WriteJSON(path, s)
	}
	return output.WriteAtomic(path, "JSON summary", func(w io.Writer) error {
		// Through EncodeJSON first, so the summary's keys read exactly as
		// in a run without analysis (empty lists as [], never null).
		var b bytes.Buffer
		if err := output.EncodeJSON(&b, s); err != nil {
			return err
		}
		doc := summaryWithAnalysis{Analysis: res}
		if err := json.Unmarshal(b.Bytes(), &doc.Summary); err != nil {
			return fmt.Errorf("re-reading the summary JSON: %w", err)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(&doc); err != nil {
			return fmt.Errorf("encoding the summary with its analysis as JSON: %w", err)
		}
		return nil
	})
}
