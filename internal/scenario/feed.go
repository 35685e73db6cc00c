package scenario

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
)

// feed is a CSV data file. Its rows are read once; VUs take one row per
// iteration, either from a cursor of their own (per-vu) or from one cursor
// shared by all VUs (shared), in file order (sequential) or at random.
type feed struct {
	name    string
	path    string
	columns []string
	rows    [][]string
	shared  bool
	random  bool
	cursor  atomic.Uint64 // shared sequential: the next row, modulo len(rows)
}

// maxFeedBytes bounds a data file so that a wrong path (a device, a huge
// log) fails clearly instead of exhausting memory.
const maxFeedBytes = 512 << 20

// parseCSV reads a CSV with a header row.
func parseCSV(data []byte) (columns []string, rows [][]string, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheet exports start with a BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("the file is empty: it needs a header row naming the columns, then data rows")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("header row: %w", err)
	}
	for i, c := range header {
		if !isColumnName(c) {
			return nil, nil, fmt.Errorf("header row: column %d %q: names may contain only letters, digits, _ and -", i+1, c)
		}
		if slices.Contains(header[:i], c) {
			return nil, nil, fmt.Errorf("header row: column %q appears twice", c)
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, rec)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("no data rows after the header row")
	}
	return header, rows, nil
}

// feedState is one VU's position in one feed.
type feedState struct {
	row  int // the row of the current iteration; -1 until first used
	next int // per-vu sequential: the row after this one
}

// pick chooses the row for this iteration.
func (f *feed) pick(vu *VU, st *feedState) int {
	n := len(f.rows)
	switch {
	case f.random:
		return vu.rand.IntN(n)
	case f.shared:
		return int((f.cursor.Add(1) - 1) % uint64(n))
	default:
		r := st.next
		st.next = (st.next + 1) % n
		return r
	}
}
