package autoscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/autoscale/actuator"
)

// localActuator runs replicas as real HTTP servers on 127.0.0.1 in the
// test process: the loop, the load balancer and the load are real, only
// the containers are left out (the Docker test has them).
type localActuator struct {
	t       *testing.T
	service string
	mu      sync.Mutex
	next    int
	reps    map[string]*localReplica
	setErr  error // SetReplicas fails with it when set
	calls   []string
}

type localReplica struct {
	r      actuator.Replica
	srv    *http.Server
	done   chan struct{}
	served atomic.Int64
}

func newLocalActuator(t *testing.T, service string, n int) *localActuator {
	a := &localActuator{t: t, service: service, reps: map[string]*localReplica{}}
	t.Cleanup(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, r := range a.reps {
			r.stop()
		}
	})
	if err := a.SetReplicas(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return a
}

func (r *localReplica) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	<-r.done
}

func (a *localActuator) Replicas(context.Context) ([]actuator.Replica, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]actuator.Replica, 0, len(a.reps))
	for _, r := range a.reps {
		out = append(out, r.r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (a *localActuator) SetReplicas(ctx context.Context, n int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf("set %d", n))
	if a.setErr != nil {
		return a.setErr
	}
	for len(a.reps) < n {
		a.next++
		name := a.service + "-" + strconv.Itoa(a.next)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lr := &localReplica{done: make(chan struct{})}
		lr.r = actuator.Replica{ID: name, Name: name, Addr: l.Addr().String(), State: actuator.Running, Created: time.Now()}
		lr.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			lr.served.Add(1)
			io.WriteString(w, "ok "+name)
		})}
		go func() { defer close(lr.done); _ = lr.srv.Serve(l) }()
		a.reps[name] = lr
	}
	if len(a.reps) > n {
		return errors.New("localActuator: scale in through Remove")
	}
	return nil
}

func (a *localActuator) Remove(ctx context.Context, rs []actuator.Replica) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rs {
		a.calls = append(a.calls, "remove "+r.Name)
		if lr, ok := a.reps[r.Name]; ok {
			lr.stop()
			delete(a.reps, r.Name)
		}
	}
	return nil
}

func (a *localActuator) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.reps)
}

func (a *localActuator) registry() actuator.Registry {
	return actuator.Registry{"docker": func(context.Context, string, actuator.Spec) (actuator.Actuator, error) { return a, nil }}
}

// eventLog collects events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Record(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *eventLog) of(kind string) []Event {
	var out []Event
	for _, e := range l.all() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (l *eventLog) dump() string {
	var b strings.Builder
	for _, e := range l.all() {
		fmt.Fprintf(&b, "%s %-20s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.Message)
	}
	return b.String()
}

func (l *eventLog) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; events:\n%s", what, timeout, l.dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openLoad sends GET requests at a set rate (open model: the schedule does
// not wait for answers), counting every outcome exactly. Bounded by its
// context and by maxInFlight.
type openLoad struct {
	rate     atomic.Int64 // requests per second
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
	wg       sync.WaitGroup
}

// startLoad starts the load; a response counts as a success when its
// status is 200 and its body starts with "ok " (the local replicas' answer).
func startLoad(ctx context.Context, url string, rate int) *openLoad {
	return startLoadExpecting(ctx, url, rate, "ok ")
}

// startLoadExpecting is startLoad with another expected body prefix.
func startLoadExpecting(ctx context.Context, url string, rate int, bodyPrefix string) *openLoad {
	l := &openLoad{}
	l.rate.Store(int64(rate))
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	sem := make(chan struct{}, 200)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		next := time.Now()
		for ctx.Err() == nil {
			r := l.rate.Load()
			if r <= 0 {
				time.Sleep(10 * time.Millisecond)
				next = time.Now()
				continue
			}
			next = next.Add(time.Second / time.Duration(r))
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
			if ctx.Err() != nil {
				break
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				continue
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer func() { <-sem }()
				resp, err := client.Get(url)
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr == nil && resp.StatusCode == 200 && strings.HasPrefix(string(b), bodyPrefix) {
						l.ok.Add(1)
						return
					}
					err = fmt.Errorf("status %d, body %q, read error %v", resp.StatusCode, b, rerr)
				}
				l.fail.Add(1)
				l.mu.Lock()
				if len(l.errs) < 10 {
					l.errs = append(l.errs, err.Error())
				}
				l.mu.Unlock()
			}()
		}
	}()
	return l
}
