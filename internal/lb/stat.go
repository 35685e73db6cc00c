package lb

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// StatRow is one line of HAProxy's `show stat` CSV: a frontend, a backend
// or a server, with every column by its header name.
type StatRow map[string]string

// Proxy is the proxy (frontend or backend) name.
func (r StatRow) Proxy() string { return r["pxname"] }

// Service is FRONTEND, BACKEND or the server's name.
func (r StatRow) Service() string { return r["svname"] }

// Int returns a numeric column, 0 when empty or absent.
func (r StatRow) Int(col string) int64 {
	v, _ := strconv.ParseInt(r[col], 10, 64)
	return v
}

// IsServer reports whether the row is a server (not a frontend/backend total).
func (r StatRow) IsServer() bool {
	s := r.Service()
	return s != "FRONTEND" && s != "BACKEND"
}

// ParseStat parses the output of `show stat` (CSV whose header line starts
// with "# "). Unknown columns are kept, so newer HAProxy versions parse too.
func ParseStat(rd io.Reader) ([]StatRow, error) {
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("show stat: empty answer")
	}
	if err != nil {
		return nil, fmt.Errorf("show stat: header: %w", err)
	}
	if len(header) == 0 || !strings.HasPrefix(header[0], "# ") {
		return nil, fmt.Errorf("show stat: answer is not HAProxy CSV (first line %q)", strings.Join(header, ","))
	}
	header[0] = strings.TrimPrefix(header[0], "# ")
	var rows []StatRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("show stat: line %d: %w", len(rows)+2, err)
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		row := make(StatRow, len(header))
		for i, h := range header {
			if i < len(rec) && h != "" {
				row[h] = rec[i]
			}
		}
		rows = append(rows, row)
	}
}

// serverFromRow converts a server row.
func serverFromRow(r StatRow) Server {
	return Server{
		Backend:  r.Proxy(),
		Name:     r.Service(),
		Addr:     r["addr"],
		Status:   r["status"],
		Sessions: r.Int("scur"),
		Queued:   r.Int("qcur"),
		Total:    r.Int("stot"),
		MaxConn:  r.Int("slim"),
	}
}
