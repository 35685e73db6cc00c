// Command replica is the test program of the Swarm actuator's tests: an
// HTTP server on 127.0.0.1 whose port is PORT, or PORT_BASE plus the Swarm
// task slot in SLOT (host networking gives every task the node's ports).
// After SIGTERM it keeps serving for SHUTDOWN_DELAY, as a replica should
// while its load balancer takes it out, then shuts down gracefully.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	port, err := strconv.Atoi(os.Getenv("PORT"))
	if err != nil {
		base, err1 := strconv.Atoi(os.Getenv("PORT_BASE"))
		slot, err2 := strconv.Atoi(os.Getenv("SLOT"))
		if err1 != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, "replica: set PORT, or PORT_BASE and SLOT")
			os.Exit(2)
		}
		port = base + slot
	}
	delay, _ := time.ParseDuration(os.Getenv("SHUTDOWN_DELAY"))
	name, _ := os.Hostname()
	srv := &http.Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok %s %d\n", name, port)
	})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		time.Sleep(delay)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
}
