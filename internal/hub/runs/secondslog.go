package runs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"google.golang.org/protobuf/proto"
)

// The seconds log is a run's side store: every batch of seconds a source
// pushed, as received, in an append-only file of framed records
// (4-byte little-endian length, 4-byte CRC-32C, a PushSecondsRequest). It
// keeps the exact HDR histograms per source and second, which the time-series
// store cannot hold, and it is what a restarted hub rebuilds a running run
// from. A batch is acknowledged only after its record is fsynced.

const (
	frameHeader    = 8
	maxRecordBytes = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type secondsLog struct {
	path string
	f    *os.File
}

// openSecondsLog opens the log for appending, cutting off a record that a
// crash left half written, so new records follow the last complete one.
func openSecondsLog(path string) (*secondsLog, error) {
	valid, err := scanSecondsLog(path, nil)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open seconds log: %w", err)
	}
	if err := f.Truncate(valid); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut torn tail of seconds log %s: %w", path, err)
	}
	if _, err := f.Seek(valid, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek seconds log %s: %w", path, err)
	}
	return &secondsLog{path: path, f: f}, nil
}

func (l *secondsLog) append(rec *brinkv1.PushSecondsRequest) error {
	payload, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode seconds: %w", err)
	}
	if len(payload) > maxRecordBytes {
		return fmt.Errorf("a batch of %d bytes is over the %d byte limit: send fewer seconds per batch", len(payload), maxRecordBytes)
	}
	buf := make([]byte, frameHeader, frameHeader+len(payload))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	buf = append(buf, payload...)
	if _, err := l.f.Write(buf); err != nil {
		return fmt.Errorf("append to seconds log %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync seconds log %s: %w", l.path, err)
	}
	return nil
}

func (l *secondsLog) close() error { return l.f.Close() }

// scanSecondsLog calls fn for every complete record in order and returns
// the length of the valid prefix. A missing file is an empty log.
func scanSecondsLog(path string, fn func(*brinkv1.PushSecondsRequest) error) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read seconds log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var offset int64
	var hdr [frameHeader]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return offset, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n > maxRecordBytes {
			return offset, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return offset, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return offset, nil
		}
		if fn != nil {
			rec := &brinkv1.PushSecondsRequest{}
			if err := proto.Unmarshal(payload, rec); err != nil {
				return offset, nil
			}
			if err := fn(rec); err != nil {
				return offset, err
			}
		}
		offset += frameHeader + int64(n)
	}
}
