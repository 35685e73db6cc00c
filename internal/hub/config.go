package hub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Config is the YAML file given with --config: what flags do not cover.
// Every field may be changed while the hub runs and applied with SIGHUP.
type Config struct {
	Query       QueryConfig       `yaml:"query"`
	Runs        RunsConfig        `yaml:"runs"`
	RemoteWrite RemoteWriteConfig `yaml:"remote_write"`
	Export      ExportConfig      `yaml:"export"`
	Auth        AuthConfig        `yaml:"auth"`
	UI          UIConfig          `yaml:"ui"`
}

// QueryConfig limits PromQL evaluation.
type QueryConfig struct {
	Timeout       Duration `yaml:"timeout"`        // per query; default 2m
	MaxSamples    int      `yaml:"max_samples"`    // samples in memory per query; default 50,000,000
	LookbackDelta Duration `yaml:"lookback_delta"` // default 5m, as Prometheus
}

// RunsConfig tunes how run results become series.
type RunsConfig struct {
	FinalizeGrace Duration `yaml:"finalize_grace"` // wait for slow sources; default 5s
	LostAfter     Duration `yaml:"lost_after"`     // silence that marks a run lost; default 2m
	// AnalysisDelay is how long after a run ends the hub waits before its
	// saturation analysis, so that the monitors' samples of the run's last
	// seconds have arrived; default 5s.
	AnalysisDelay Duration `yaml:"analysis_delay"`
	// LBService is the service name of the load balancer's containers,
	// whose CPU the analysis examines beside the target's; default "lb".
	LBService string `yaml:"lb_service"`
}

// RemoteWriteConfig limits the receiver.
type RemoteWriteConfig struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"` // compressed and decompressed; default 32 MiB
}

// ExportConfig limits exports.
type ExportConfig struct {
	MaxPoints int `yaml:"max_points"` // default 5,000,000
}

// AuthConfig lists more token files (besides --token-file), e.g. one per
// team, all accepted. Files are re-read on SIGHUP, which is how tokens
// rotate.
type AuthConfig struct {
	TokenFiles []string `yaml:"token_files"`
}

// UIConfig sets defaults of the cluster endpoints.
type UIConfig struct {
	Lookback Duration `yaml:"lookback"` // default 15s
}

// Duration is a Prometheus-style duration in YAML ("15s", "2m", "15d").
type Duration time.Duration

// UnmarshalYAML parses a Prometheus duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d column %d: %q is not a duration like 15s, 5m or 15d", n.Line, n.Column, s)
	}
	*d = Duration(v)
	return nil
}

// D is the duration as time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultConfig is the configuration without a file.
func DefaultConfig() Config {
	return Config{
		Query: QueryConfig{Timeout: Duration(2 * time.Minute), MaxSamples: 50_000_000, LookbackDelta: Duration(5 * time.Minute)},
		Runs: RunsConfig{FinalizeGrace: Duration(5 * time.Second), LostAfter: Duration(2 * time.Minute),
			AnalysisDelay: Duration(5 * time.Second), LBService: analysis.DefaultLBService},
		RemoteWrite: RemoteWriteConfig{MaxBodyBytes: 32 << 20},
		Export:      ExportConfig{MaxPoints: 5_000_000},
		UI:          UIConfig{Lookback: Duration(15 * time.Second)},
	}
}

// LoadConfig reads path over the defaults. Unknown keys are errors, so a
// typo does not silently leave a default in place.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read hub config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("hub config %s: %w", path, err)
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("hub config %s: %w", path, err)
	}
	return cfg, nil
}

func (c Config) validate() error {
	switch {
	case c.Query.Timeout <= 0:
		return errors.New("query.timeout must be positive")
	case c.Query.MaxSamples <= 0:
		return errors.New("query.max_samples must be positive")
	case c.Query.LookbackDelta <= 0:
		return errors.New("query.lookback_delta must be positive")
	case c.Runs.FinalizeGrace <= 0 || c.Runs.LostAfter <= c.Runs.FinalizeGrace:
		return errors.New("runs.finalize_grace must be positive and below runs.lost_after")
	case c.Runs.AnalysisDelay < 0 || c.Runs.AnalysisDelay > Duration(time.Hour):
		return errors.New("runs.analysis_delay must be between 0s and 1h")
	case c.RemoteWrite.MaxBodyBytes < 1024:
		return errors.New("remote_write.max_body_bytes must be at least 1024")
	case c.Export.MaxPoints <= 0:
		return errors.New("export.max_points must be positive")
	case c.UI.Lookback < Duration(time.Second):
		return errors.New("ui.lookback must be at least 1s")
	}
	return nil
}
