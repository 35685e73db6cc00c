// Package decimal parses the unsigned decimal numbers of kernel files
// (/proc, cgroups) from raw bytes without allocating: the monitor reads
// them for every container on every tick.
package decimal

import (
	"errors"
	"fmt"
	"math"
)

// ErrSyntax marks content that is not what the kernel writes.
var ErrSyntax = errors.New("unexpected content")

// ParseUint parses b, digits only, into a uint64.
func ParseUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("empty number: %w", ErrSyntax)
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number: %w", b, ErrSyntax)
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("%q overflows: %w", b, ErrSyntax)
		}
		v = v*10 + d
	}
	return v, nil
}
