package httpclient

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// fdIO talks to a plain TCP socket directly, still waiting through Go's
// network poller (so deadlines and Interrupt work as usual):
//
//   - exchange writes the request inside the poller's read callback, so
//     the readiness it then waits for is the response's: no speculative
//     read that finds nothing, one read syscall per response instead of two;
//   - the socket is non-blocking, so reads and writes use raw system calls
//     that never block the thread; skipping the runtime's syscall
//     bookkeeping also keeps the scheduler from handing the processor to
//     another thread during a long loopback write (a context switch per
//     hand-off).
//
// Its callbacks are made once per connection so a request allocates nothing.
type fdIO struct {
	rc syscall.RawConn

	wire    []byte
	written int
	buf     []byte
	n       int
	err     error
	phase   uint8

	exchangeFn, readFn, writeFn func(fd uintptr) bool
}

const (
	phaseWrite        = iota // writing the request
	phaseRead                // waiting for and reading the first response bytes
	phaseWriteBlocked        // the send buffer filled up: finish with a blocking write
)

func (f *fdIO) attached() bool { return f.rc != nil }

func (f *fdIO) detach() { f.rc = nil }

func (f *fdIO) attach(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	f.rc = rc
	if f.exchangeFn == nil {
		f.exchangeFn = f.exchangeStep
		f.readFn = f.readOnce
		f.writeFn = f.writeStep
	}
}

// exchange writes wire and reads the first response bytes into buf.
func (f *fdIO) exchange(wire, buf []byte) (written, n int, err error) {
	f.wire, f.written, f.buf, f.n, f.err, f.phase = wire, 0, buf, 0, nil, phaseWrite
	err = f.rc.Read(f.exchangeFn)
	if err == nil {
		err = f.err
	}
	if err == nil && f.phase == phaseWriteBlocked {
		// A request larger than the socket's send buffer: wait for room,
		// then read as usual.
		err = f.rc.Write(f.writeFn)
		if err == nil {
			err = f.err
		}
		if err == nil {
			n, err = f.read(buf)
			return f.written, n, err
		}
	}
	return f.written, f.n, err
}

// read reads once into buf, waiting for data.
func (f *fdIO) read(buf []byte) (int, error) {
	f.buf, f.n, f.err = buf, 0, nil
	err := f.rc.Read(f.readFn)
	if err == nil {
		err = f.err
	}
	return f.n, err
}

func (f *fdIO) exchangeStep(fd uintptr) bool {
	if f.phase == phaseWrite {
		if !f.writeAll(fd) {
			f.phase = phaseWriteBlocked
			return true
		}
		if f.err != nil {
			return true
		}
		f.phase = phaseRead
		// Wait for the response: readiness from now on is its arrival.
		return false
	}
	return f.readOnce(fd)
}

func (f *fdIO) writeStep(fd uintptr) bool {
	return f.writeAll(fd)
}

// writeAll writes the rest of the request; false means the send buffer is
// full (wait for writability). Errors end the write with f.err set.
func (f *fdIO) writeAll(fd uintptr) bool {
	for f.written < len(f.wire) {
		b := f.wire[f.written:]
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch errno {
		case 0:
			f.written += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			f.err = os.NewSyscallError("write", errno)
			return true
		}
	}
	return true
}

func (f *fdIO) readOnce(fd uintptr) bool {
	for {
		r, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&f.buf[0])), uintptr(len(f.buf)))
		switch errno {
		case 0:
			if r == 0 {
				f.err = io.EOF
			}
			f.n = int(r)
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			f.err = os.NewSyscallError("read", errno)
			return true
		}
	}
}
