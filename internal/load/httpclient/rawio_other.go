//go:build !linux

package httpclient

import "net"

// fdIO has no direct socket path on this system: every connection uses its
// net.Conn.
type fdIO struct{}

func (fdIO) attached() bool  { return false }
func (fdIO) detach()         {}
func (fdIO) attach(net.Conn) {}
func (fdIO) exchange(_, _ []byte) (int, int, error) {
	panic("httpclient: no direct socket path on this system")
}
func (fdIO) read([]byte) (int, error) { panic("httpclient: no direct socket path on this system") }
