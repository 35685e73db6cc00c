package wire

import (
	"testing"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/results"
	"google.golang.org/protobuf/proto"
)

func sampleSecond() *results.Second {
	s := results.NewSecond(1_700_000_000)
	s.VUs, s.TargetRate, s.Iterations, s.Dropped = 50, 1000, 990, 10
	for i := int64(1); i <= 500; i++ {
		st := s.Stats([]string{"home", "login"}[i%2])
		st.Requests++
		st.BytesIn += 100
		st.Latency.Record(i * 13)
		st.TTFB.Record(i * 7)
		if i%50 == 0 {
			st.Failures[results.HTTP5xx]++
		}
	}
	return s
}

func TestSecondRoundTripIsExact(t *testing.T) {
	in := sampleSecond()
	b, err := proto.Marshal(SecondToProto(in, 7))
	if err != nil {
		t.Fatal(err)
	}
	var p brinkv1.Second
	if err := proto.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	out, err := SecondFromProto(&p)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sequence != 7 || out.T != in.T || out.VUs != in.VUs || out.Dropped != in.Dropped || out.TargetRate != in.TargetRate {
		t.Fatalf("header differs: %+v vs %+v", out, in)
	}
	for name, want := range in.ByName {
		got := out.ByName[name]
		if got == nil || got.Requests != want.Requests || got.Failures != want.Failures || got.BytesIn != want.BytesIn ||
			!got.Latency.Equal(want.Latency) || !got.TTFB.Equal(want.TTFB) {
			t.Fatalf("%s differs after round trip", name)
		}
	}
}

func TestSecondFromProtoRejects(t *testing.T) {
	valid := func() *brinkv1.Second { return SecondToProto(sampleSecond(), 1) }
	tests := []struct {
		name    string
		corrupt func(*brinkv1.Second)
	}{
		{"zero time", func(p *brinkv1.Second) { p.UnixSecond = 0 }},
		{"negative vus", func(p *brinkv1.Second) { p.Vus = -1 }},
		{"negative requests", func(p *brinkv1.Second) { p.ByName[0].Requests = -5 }},
		{"unknown failure kind", func(p *brinkv1.Second) { p.ByName[0].Failures = map[string]int64{"gremlins": 1} }},
		{"more failures than requests", func(p *brinkv1.Second) { p.ByName[0].Failures = map[string]int64{"timeout": 1 << 40} }},
		{"duplicate name", func(p *brinkv1.Second) { p.ByName[1].Name = p.ByName[0].Name }},
		{"corrupt histogram", func(p *brinkv1.Second) { p.ByName[0].Latency = []byte{1, 2, 3} }},
		{"nil stats", func(p *brinkv1.Second) { p.ByName[0] = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid()
			tt.corrupt(p)
			if _, err := SecondFromProto(p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzSecondFromProto(f *testing.F) {
	b, _ := proto.Marshal(SecondToProto(sampleSecond(), 1))
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p brinkv1.Second
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		s, err := SecondFromProto(&p)
		if err != nil {
			return
		}
		// Whatever was accepted must survive a second round trip unchanged.
		again, err := SecondFromProto(SecondToProto(s, p.Sequence))
		if err != nil {
			t.Fatalf("re-encoding an accepted second fails: %v", err)
		}
		for name, st := range s.ByName {
			if !again.ByName[name].Latency.Equal(st.Latency) || again.ByName[name].Requests != st.Requests {
				t.Fatalf("%s changed on re-encoding", name)
			}
		}
	})
}
