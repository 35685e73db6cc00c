package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/results"
)

// Recording is a run with the resource series recorded beside it: what
// the analysis needs, in one JSON file. The lab writes one per phase, and
// recorded runs in testdata use the same format. A plain run summary
// (`brink run --out json=PATH`) reads as a Recording without resources.
type Recording struct {
	Summary *results.Summary `json:"summary"`
	// TargetService and LBService name the services whose containers
	// the Target* and LB* series describe.
	TargetService string   `json:"target_service,omitempty"`
	LBService     string   `json:"lb_service,omitempty"`
	Resources     []Series `json:"resources"`
	// GeneratorJitterP99Ms is the run-wide send-time lateness, when known.
	GeneratorJitterP99Ms float64 `json:"generator_jitter_p99_ms,omitempty"`
}

// Input is the analysis input of the recording.
func (r *Recording) Input() Input {
	in := FromSummary(r.Summary, r.Resources)
	in.GeneratorJitterP99Ms = r.GeneratorJitterP99Ms
	return in
}

// DecodeRecording reads a Recording or a plain results.Summary from JSON.
func DecodeRecording(rd io.Reader) (*Recording, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a brink run JSON file: %w", err)
	}
	if _, ok := probe["summary"]; ok {
		var r Recording
		if err := decodeStrict(data, &r); err != nil {
			return nil, err
		}
		if r.Summary == nil {
			return nil, fmt.Errorf(`"summary" is null: the file holds no run`)
		}
		return &r, nil
	}
	if _, ok := probe["timeline"]; !ok {
		return nil, fmt.Errorf(`neither a run summary (no "timeline") nor a recording (no "summary"): write one with brink run --out json=PATH`)
	}
	var s results.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("reading the run summary: %w", err)
	}
	return &Recording{Summary: &s}, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("reading the recording: %w", err)
	}
	return nil
}

// ReadRecording reads a Recording (or a plain run summary) from path.
func ReadRecording(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := DecodeRecording(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// WriteRecording writes r to path as indented JSON, atomically.
func WriteRecording(path string, r *Recording) error {
	return output.WriteAtomic(path, "recording", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(r)
	})
}

// snapshotJSON is Snapshot with absent figures as null.
type snapshotJSON struct {
	FromUnix          int64    `json:"from_unix"`
	ToUnix            int64    `json:"to_unix"`
	Replicas          int      `json:"replicas"`
	TargetCPU         *float64 `json:"target_cpu_cores"`
	TargetCPUMax      *float64 `json:"target_cpu_cores_max"`
	TargetCPULimit    *float64 `json:"target_cpu_limit_cores"`
	TargetThrottled   *float64 `json:"target_cpu_throttled_ratio"`
	TargetMemory      *float64 `json:"target_memory_bytes"`
	TargetMemoryLimit *float64 `json:"target_memory_limit_bytes"`
	HostCPU           *float64 `json:"host_cpu_used_cores"`
	HostCores         *float64 `json:"host_cpu_cores"`
	LBCPU             *float64 `json:"lb_cpu_cores"`
	LBCPULimit        *float64 `json:"lb_cpu_limit_cores"`
	LBThrottled       *float64 `json:"lb_cpu_throttled_ratio"`
	GeneratorCPU      *float64 `json:"generator_cpu_cores"`
	GeneratorCapacity *float64 `json:"generator_cpu_capacity_cores"`
}

func opt(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes absent (NaN) figures as null.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	from, to := s.FromUnix, s.ToUnix
	if from == math.MinInt64 {
		from, to = 0, 0
	}
	return json.Marshal(snapshotJSON{
		FromUnix: from, ToUnix: to, Replicas: s.Replicas,
		TargetCPU: opt(s.TargetCPU), TargetCPUMax: opt(s.TargetCPUMax), TargetCPULimit: opt(s.TargetCPULimit),
		TargetThrottled: opt(s.TargetThrottled), TargetMemory: opt(s.TargetMemory), TargetMemoryLimit: opt(s.TargetMemoryLimit),
		HostCPU: opt(s.HostCPU), HostCores: opt(s.HostCores),
		LBCPU: opt(s.LBCPU), LBCPULimit: opt(s.LBCPULimit), LBThrottled: opt(s.LBThrottled),
		GeneratorCPU: opt(s.GeneratorCPU), GeneratorCapacity: opt(s.GeneratorCapacity),
	})
}

// UnmarshalJSON reads null figures as NaN.
func (s *Snapshot) UnmarshalJSON(data []byte) error {
	var j snapshotJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*s = Snapshot{
		FromUnix: j.FromUnix, ToUnix: j.ToUnix, Replicas: j.Replicas,
		TargetCPU: val(j.TargetCPU), TargetCPUMax: val(j.TargetCPUMax), TargetCPULimit: val(j.TargetCPULimit),
		TargetThrottled: val(j.TargetThrottled), TargetMemory: val(j.TargetMemory), TargetMemoryLimit: val(j.TargetMemoryLimit),
		HostCPU: val(j.HostCPU), HostCores: val(j.HostCores),
		LBCPU: val(j.LBCPU), LBCPULimit: val(j.LBCPULimit), LBThrottled: val(j.LBThrottled),
		GeneratorCPU: val(j.GeneratorCPU), GeneratorCapacity: val(j.GeneratorCapacity),
	}
	return nil
}
