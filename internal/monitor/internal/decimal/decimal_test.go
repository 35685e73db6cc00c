package decimal

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestParseUint(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"12345", 12345, true},
		{"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"12 ", 0, false},
		{"1.5", 0, false},
	} {
		got, err := ParseUint([]byte(tt.in))
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseUint(%q): %v is not ErrSyntax", tt.in, err)
		}
	}
}

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "42", "18446744073709551615", "x", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseUint(b)
		want, werr := strconv.ParseUint(string(b), 10, 64)
		digitsOnly := len(b) > 0
		for _, c := range b {
			digitsOnly = digitsOnly && c >= '0' && c <= '9'
		}
		// On strings of digits both parsers agree, overflow included;
		// anything else ParseUint refuses.
		if digitsOnly && (werr == nil) != (err == nil) {
			t.Fatalf("%q: ParseUint error %v, strconv %v", b, err, werr)
		}
		if err == nil && (!digitsOnly || v != want) {
			t.Fatalf("%q parsed to %d (strconv: %d, %v)", b, v, want, werr)
		}
	})
}
