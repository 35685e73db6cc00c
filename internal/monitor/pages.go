package monitor

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

const (
	// madvRandom turns off read-ahead for a mapping, so that a page
	// faulted back in does not bring its neighbours along.
	madvRandom = 1
	// madvPageout asks the kernel to reclaim a range's pages now (Linux 5.4+).
	madvPageout = 21
)

// releaseStartupPages drops the executable's clean file pages from memory.
// brink is one binary for every role; starting it runs the package
// initialisers of everything linked in (the hub's store, the Kubernetes
// client, ...) and leaves those code and data pages resident although the
// monitor never touches them again. Paging them out lets the resident set
// shrink to what the monitor really uses: pages it needs fault back in on
// their next use. It returns the bytes advised; errors are ignored because
// this only saves memory.
func releaseStartupPages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// 00400000-00452000 r-xp 00000000 08:02 173521  /usr/bin/brink
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[5]) != exe || bytes.IndexByte(f[1], 'w') >= 0 {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte{'-'})
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvRandom)
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout); errno == 0 {
			total += int64(end - start)
		}
	}
	return total
}
