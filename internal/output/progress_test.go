package output

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/results"
)

// screen is a minimal terminal: it understands exactly the control
// sequences Progress may emit (CR, LF, cursor up, clear line) and fails on
// anything else, so the test proves what a real terminal would show.
type screen struct {
	lines    [][]rune
	row, col int
}

var csi = regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)

func (s *screen) write(t *testing.T, b []byte) {
	t.Helper()
	str := string(b)
	for len(str) > 0 {
		if m := csi.FindStringSubmatch(str); m != nil {
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "A":
				s.row -= n
				if s.row < 0 {
					t.Fatalf("cursor moved above the first line")
				}
			case "K":
				if n != 2 {
					t.Fatalf("unexpected erase mode %d", n)
				}
				s.ensure()
				s.lines[s.row] = nil
			default:
				t.Fatalf("unexpected control sequence %q", m[0])
			}
			str = str[len(m[0]):]
			continue
		}
		r, size := utf8.DecodeRuneInString(str)
		str = str[size:]
		switch r {
		case '\r':
			s.col = 0
		case '\n':
			s.row++
			s.col = 0
		case 0x1b:
			t.Fatalf("unparsed escape sequence near %q", str)
		default:
			s.ensure()
			line := s.lines[s.row]
			for len(line) <= s.col {
				line = append(line, ' ')
			}
			line[s.col] = r
			s.lines[s.row] = line
			s.col++
		}
	}
}

func (s *screen) ensure() {
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, nil)
	}
}

func (s *screen) text() []string {
	var out []string
	for _, l := range s.lines {
		out = append(out, string(l))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// frameWriter records each Write separately.
type frameWriter struct{ writes [][]byte }

func (f *frameWriter) Write(b []byte) (int, error) {
	f.writes = append(f.writes, append([]byte(nil), b...))
	return len(b), nil
}

type progressRun struct {
	name       string
	planned    time.Duration
	iterations int64
	seconds    func(i int) *results.Second
	n          int
}

func progressRuns() []progressRun {
	return []progressRun{
		{name: "duration", planned: 3 * time.Second, seconds: fixtureSecond, n: 3},
		{name: "overtime", planned: 2 * time.Second, seconds: fixtureSecond, n: 3},
		{name: "iterations", iterations: 1000, seconds: fixtureSecond, n: 3},
		{name: "unbounded", seconds: fixtureSecond, n: 3},
		{name: "open-model-with-idle-second", planned: 3 * time.Second, n: 3, seconds: func(i int) *results.Second {
			if i == 1 {
				sec := results.NewSecond(fixtureStart.Unix() + 1)
				sec.VUs, sec.TargetRate, sec.Dropped = 20, 1500, 1500
				return sec
			}
			sec := fixtureSecond(i)
			sec.TargetRate = 1500
			return sec
		}},
	}
}

func (r progressRun) play(w *frameWriter, terminal bool) {
	p := NewProgress(w, terminal, r.planned, "checkout.yaml")
	if r.iterations > 0 {
		p.SetPlannedIterations(r.iterations)
	}
	for i := 0; i < r.n; i++ {
		p.Second(r.seconds(i), time.Duration(i+1)*time.Second)
	}
	p.Done()
	p.Done()                               // harmless
	p.Second(r.seconds(0), 10*time.Second) // ignored after Done
}

func TestProgressPlain(t *testing.T) {
	var all bytes.Buffer
	for _, r := range progressRuns() {
		w := &frameWriter{}
		r.play(w, false)
		fmt.Fprintf(&all, "== %s\n", r.name)
		for _, b := range w.writes {
			if bytes.ContainsRune(b, 0x1b) {
				t.Errorf("%s: plain mode wrote an escape sequence: %q", r.name, b)
			}
			all.Write(b)
		}
		if len(w.writes) != r.n+1 {
			t.Errorf("%s: %d writes, want one line per second plus one closing line (%d)", r.name, len(w.writes), r.n+1)
		}
		// Every per-second line has the same keys in the same order.
		var keys string
		for _, b := range w.writes[:r.n] {
			var ks []string
			for _, f := range strings.Fields(string(b)) {
				k, _, ok := strings.Cut(f, "=")
				if !ok {
					t.Errorf("%s: field %q is not key=value", r.name, f)
				}
				ks = append(ks, k)
			}
			if keys == "" {
				keys = strings.Join(ks, " ")
			} else if strings.Join(ks, " ") != keys {
				t.Errorf("%s: keys changed from %q to %q", r.name, keys, strings.Join(ks, " "))
			}
		}
	}
	golden(t, "progress_plain.golden", all.Bytes())
}

func TestProgressTerminal(t *testing.T) {
	var all bytes.Buffer
	for _, r := range progressRuns() {
		w := &frameWriter{}
		r.play(w, true)
		if len(w.writes) != r.n+1 {
			t.Fatalf("%s: %d writes, want one per frame (%d)", r.name, len(w.writes), r.n+1)
		}
		var scr screen
		fmt.Fprintf(&all, "== %s\n", r.name)
		for i, b := range w.writes {
			if i == 0 && bytes.Contains(b, []byte("\x1b[4A")) {
				t.Errorf("%s: first frame moves the cursor up over earlier output", r.name)
			}
			if i > 0 && !bytes.HasPrefix(b, []byte("\x1b[4A")) {
				t.Errorf("%s: frame %d does not start by moving up over the previous block: %q", r.name, i, b)
			}
			scr.write(t, b)
			shown := scr.text()
			if len(shown) != 4 {
				t.Fatalf("%s: after frame %d the screen has %d lines, want the 4-line block only:\n%s", r.name, i, len(shown), strings.Join(shown, "\n"))
			}
			for _, l := range shown {
				if n := utf8.RuneCountInString(l); n > TerminalWidth {
					t.Errorf("%s: line is %d characters wide: %q", r.name, n, l)
				}
			}
			fmt.Fprintf(&all, "-- frame %d\n%s\n", i, strings.Join(shown, "\n"))
		}
	}
	golden(t, "progress_terminal.golden", all.Bytes())
}

func TestProgressFitsLongLabels(t *testing.T) {
	w := &frameWriter{}
	p := NewProgress(w, true, time.Minute, "GET http://127.0.0.1:8080/"+strings.Repeat("very/long/path/", 10))
	sec := fixtureSecond(0)
	sec.VUs, sec.TargetRate, sec.Dropped = 123_456, 1_234_567, 9_876_543
	p.Second(sec, time.Second)
	var scr screen
	scr.write(t, w.writes[0])
	for _, l := range scr.text() {
		if n := utf8.RuneCountInString(l); n > TerminalWidth {
			t.Errorf("line is %d characters wide: %q", n, l)
		}
	}
	if first := scr.text()[0]; !strings.HasSuffix(first, "…") {
		t.Errorf("a cut label should end in …: %q", first)
	}
}
