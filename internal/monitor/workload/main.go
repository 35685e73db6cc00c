// Command workload is the tiny static program that brink's monitor tests and
// benchmark run inside FROM scratch containers, so that a container's CPU and
// memory use is known exactly:
//
//	workload idle            sleep until stopped (benchmark containers)
//	workload cpu             burn CPU on every available core until stopped
//	workload mem -mib 100    allocate and touch 100 MiB, then hold it until stopped
//	workload loopback        send 1 KiB every 100 ms to itself over 127.0.0.1
//	                         (traffic that stays in its network namespace)
//
// It exits on SIGTERM/SIGINT, and in any case after -max (default 1h) so that
// a container left behind by a crashed test cannot run forever.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: workload idle|cpu|mem [-mib N] [-max D]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	mib := fs.Int("mib", 100, "mem: MiB to allocate and touch")
	maxRun := fs.Duration("max", time.Hour, "exit after this long even if never stopped")
	if err := fs.Parse(os.Args[2:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxRun)
	defer cancel()

	switch mode {
	case "idle":
		<-ctx.Done()
	case "cpu":
		burn(ctx)
	case "loopback":
		if err := loopback(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "workload:", err)
			os.Exit(1)
		}
	case "mem":
		hold := touch(*mib)
		fmt.Printf("touched %d MiB\n", len(hold)>>20)
		<-ctx.Done()
		runtime.KeepAlive(hold)
	default:
		fmt.Fprintf(os.Stderr, "workload: unknown mode %q (want idle, cpu, mem or loopback)\n", mode)
		os.Exit(2)
	}
}

// burn keeps every available CPU busy until ctx ends. The loops check the
// context only every few million iterations so that nearly all time is
// spent computing.
func burn(ctx context.Context) {
	done := make(chan struct{}, runtime.NumCPU())
	for range runtime.NumCPU() {
		go func() {
			x := uint64(1)
			for ctx.Err() == nil {
				for i := 0; i < 4_000_000; i++ {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			if x == 0 { // keeps the loop from being optimised away
				fmt.Println(x)
			}
			done <- struct{}{}
		}()
	}
	for range runtime.NumCPU() {
		<-done
	}
}

// loopback sends 1 KiB every 100 ms over a TCP connection to itself on
// 127.0.0.1, so its network namespace's lo counters grow steadily.
func loopback(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Println("sending to", ln.Addr())
	payload := make([]byte, 1024)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := conn.Write(payload); err != nil {
				return err
			}
		}
	}
}

// touch allocates mib MiB and writes to every page so that the memory is
// resident (anonymous RSS), not just reserved.
func touch(mib int) []byte {
	b := make([]byte, mib<<20)
	page := os.Getpagesize()
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	return b
}
