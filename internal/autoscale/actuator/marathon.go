package actuator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MarathonConfig points at a Marathon app. Marathon cannot run on brink's
// test machine; this actuator is tested against a server that replays the
// responses documented in Marathon's REST API reference.
type MarathonConfig struct {
	URL       string `yaml:"url"`        // Marathon base URL, e.g. http://marathon.mesos:8080
	App       string `yaml:"app"`        // app id, e.g. /shop/web
	PortIndex int    `yaml:"port_index"` // which of a task's ports the load balancer uses; default 0
	// TokenEnv names an environment variable holding a DC/OS authentication
	// token (sent as "Authorization: token=..."); "" for none.
	TokenEnv string `yaml:"token_env"`
	// DeploymentWait bounds how long a scale request waits for a running
	// deployment of the app to finish (Marathon answers 409 meanwhile).
	DeploymentWait time.Duration `yaml:"deployment_wait"`
}

// Validate checks the configuration and fills defaults.
func (c *MarathonConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("marathon: url %q must be an http(s) URL such as http://marathon.mesos:8080", c.URL)
	}
	if !strings.HasPrefix(c.App, "/") {
		return fmt.Errorf("marathon: app %q must be an absolute app id such as /shop/web", c.App)
	}
	if c.PortIndex < 0 {
		return fmt.Errorf("marathon: port_index %d must not be negative", c.PortIndex)
	}
	if c.DeploymentWait == 0 {
		c.DeploymentWait = 60 * time.Second
	}
	return nil
}

// ErrDeploymentInProgress is returned when the app stayed locked by a
// deployment for longer than DeploymentWait.
var ErrDeploymentInProgress = errors.New("marathon: app is locked by a deployment in progress")

// Marathon scales a Marathon app (PUT /v2/apps/{id} with instances) and
// removes chosen tasks (DELETE /v2/apps/{id}/tasks/{task}?scale=true), so
// replicas are drained before they are killed, as marathon-lb users expect.
type Marathon struct {
	service string
	cfg     MarathonConfig
	http    *http.Client
	token   string
	// pollEvery is how often a locked app's deployments are checked.
	pollEvery time.Duration
}

// NewMarathon returns the actuator; hc nil means a client with a 10 s
// timeout.
func NewMarathon(service string, cfg MarathonConfig, hc *http.Client, getenv func(string) string) (*Marathon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("service %q: %w", service, err)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	m := &Marathon{service: service, cfg: cfg, http: hc, pollEvery: time.Second}
	if cfg.TokenEnv != "" {
		m.token = getenv(cfg.TokenEnv)
		if m.token == "" {
			return nil, fmt.Errorf("service %q: marathon: environment variable %s (token_env) is empty; export the DC/OS token in it", service, cfg.TokenEnv)
		}
	}
	return m, nil
}

// marathonTask is the part of Marathon's task object brink uses.
type marathonTask struct {
	ID                 string     `json:"id"`
	AppID              string     `json:"appId"`
	Host               string     `json:"host"`
	Ports              []int      `json:"ports"`
	StagedAt           time.Time  `json:"stagedAt"`
	StartedAt          *time.Time `json:"startedAt"`
	State              string     `json:"state"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

type marathonApp struct {
	App struct {
		ID           string            `json:"id"`
		Instances    int               `json:"instances"`
		HealthChecks []json.RawMessage `json:"healthChecks"`
	} `json:"app"`
}

type marathonLocked struct {
	Message     string `json:"message"`
	Deployments []struct {
		ID string `json:"id"`
	} `json:"deployments"`
}

func (m *Marathon) appPath() string {
	return "/v2/apps" + (&url.URL{Path: m.cfg.App}).EscapedPath()
}

func (m *Marathon) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(m.cfg.URL, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if m.token != "" {
		req.Header.Set("Authorization", "token="+m.token)
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("marathon: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("marathon: %s %s: read answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

func marathonError(method, path string, code int, body []byte) error {
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &msg)
	if msg.Message == "" {
		msg.Message = strings.TrimSpace(string(body))
		if len(msg.Message) > 200 {
			msg.Message = msg.Message[:200] + "..."
		}
	}
	hint := ""
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = " (check the token in token_env)"
	case http.StatusNotFound:
		hint = " (check the app id)"
	}
	return fmt.Errorf("marathon: %s %s: HTTP %d: %s%s", method, path, code, msg.Message, hint)
}

// Replicas lists the app's tasks. Marathon's health check results, when the
// app has health checks, decide whether a task is healthy.
func (m *Marathon) Replicas(ctx context.Context) ([]Replica, error) {
	code, body, err := m.do(ctx, http.MethodGet, m.appPath(), nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, marathonError("GET", m.appPath(), code, body)
	}
	var app marathonApp
	if err := json.Unmarshal(body, &app); err != nil {
		return nil, fmt.Errorf("marathon: GET %s: decode app: %w", m.appPath(), err)
	}
	path := m.appPath() + "/tasks"
	code, body, err = m.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, marathonError("GET", path, code, body)
	}
	var tasks struct {
		Tasks []marathonTask `json:"tasks"`
	}
	if err := json.Unmarshal(body, &tasks); err != nil {
		return nil, fmt.Errorf("marathon: GET %s: decode tasks: %w", path, err)
	}
	hasChecks := len(app.App.HealthChecks) > 0
	var out []Replica
	for _, t := range tasks.Tasks {
		st, alive := marathonState(t.State, t.StartedAt != nil)
		if !alive {
			continue
		}
		r := Replica{ID: t.ID, Name: t.ID, State: st, Created: t.StagedAt}
		if m.cfg.PortIndex < len(t.Ports) {
			r.Addr = net.JoinHostPort(t.Host, strconv.Itoa(t.Ports[m.cfg.PortIndex]))
		}
		if hasChecks {
			healthy := len(t.HealthCheckResults) > 0
			for _, h := range t.HealthCheckResults {
				healthy = healthy && h.Alive
			}
			r.Healthy = &healthy
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// marathonState maps a Mesos task state. Older Marathon versions omit
// "state"; a task with startedAt is then running.
func marathonState(state string, started bool) (ReplicaState, bool) {
	switch state {
	case "TASK_RUNNING":
		return Running, true
	case "TASK_STAGING", "TASK_STARTING":
		return Starting, true
	case "TASK_KILLING":
		return Terminating, true
	case "":
		if started {
			return Running, true
		}
		return Starting, true
	}
	return Terminating, false // finished, failed, killed, lost, ...
}

// SetReplicas sets the app's instances. While a deployment of the app is in
// progress Marathon answers 409; the request is repeated when that
// deployment has finished, for at most DeploymentWait.
func (m *Marathon) SetReplicas(ctx context.Context, n int) error {
	path := m.appPath()
	return m.whenUnlocked(ctx, "scale to "+strconv.Itoa(n), func() (int, []byte, error) {
		return m.do(ctx, http.MethodPut, path, map[string]int{"instances": n})
	}, "PUT", path)
}

// Remove kills the chosen tasks and lowers the app's instances by as many
// (scale=true), so Marathon does not start replacements.
func (m *Marathon) Remove(ctx context.Context, replicas []Replica) error {
	var errs []error
	for _, r := range replicas {
		path := m.appPath() + "/tasks/" + url.PathEscape(r.ID) + "?scale=true"
		err := m.whenUnlocked(ctx, "kill task "+r.ID, func() (int, []byte, error) {
			return m.do(ctx, http.MethodDelete, path, nil)
		}, "DELETE", path)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Marathon) whenUnlocked(ctx context.Context, what string, call func() (int, []byte, error), method, path string) error {
	deadline := time.Now().Add(m.cfg.DeploymentWait)
	for {
		code, body, err := call()
		if err != nil {
			return err
		}
		switch {
		case code >= 200 && code < 300:
			return nil
		case code != http.StatusConflict:
			return marathonError(method, path, code, body)
		}
		var locked marathonLocked
		_ = json.Unmarshal(body, &locked)
		ids := make([]string, 0, len(locked.Deployments))
		for _, d := range locked.Deployments {
			ids = append(ids, d.ID)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s of %s waited %s for deployment(s) %s; see %s/v2/deployments",
				ErrDeploymentInProgress, what, m.cfg.App, m.cfg.DeploymentWait, strings.Join(ids, ", "), m.cfg.URL)
		}
		if err := m.waitDeployments(ctx, ids, deadline); err != nil {
			return err
		}
	}
}

// waitDeployments polls /v2/deployments until none of ids is listed or the
// deadline passes.
func (m *Marathon) waitDeployments(ctx context.Context, ids []string, deadline time.Time) error {
	for time.Now().Before(deadline) {
		code, body, err := m.do(ctx, http.MethodGet, "/v2/deployments", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return marathonError("GET", "/v2/deployments", code, body)
		}
		var deps []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &deps); err != nil {
			return fmt.Errorf("marathon: GET /v2/deployments: decode: %w", err)
		}
		running := false
		for _, d := range deps {
			for _, id := range ids {
				running = running || d.ID == id
			}
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.pollEvery):
		}
	}
	return nil
}
