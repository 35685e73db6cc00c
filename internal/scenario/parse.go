package scenario

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/brinkhq/brink/internal/threshold"
)

// maxFileBytes bounds a scenario file or a body file.
const maxFileBytes = 64 << 20

// Load reads a scenario file. Data and body files are resolved relative to
// the file's directory; {{env.NAME}} comes from the process environment.
func Load(path string) (*Plan, error) { return LoadEnv(path, os.Getenv) }

// LoadEnv is Load with the environment supplied by the caller.
func LoadEnv(path string, getenv func(string) string) (*Plan, error) {
	src, err := readLimited(path, maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read scenario file: %w", err)
	}
	return ParseEnv(path, src, filepath.Dir(path), getenv)
}

// Parse reads a scenario from src. filename is used in error messages;
// data and body files are resolved relative to baseDir.
func Parse(filename string, src []byte, baseDir string) (*Plan, error) {
	return ParseEnv(filename, src, baseDir, os.Getenv)
}

// ParseEnv is Parse with the environment supplied by the caller (nil: an
// empty environment). An environment variable that is empty counts as unset.
func ParseEnv(filename string, src []byte, baseDir string, getenv func(string) string) (*Plan, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	d := &decoder{
		file: filename, baseDir: baseDir, getenv: getenv, budget: maxNodes,
		lines: strings.Split(string(src), "\n"),
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		e := yamlSyntaxError(filename, err)
		if e.Line-1 < len(d.lines) && strings.HasPrefix(strings.TrimLeft(d.lines[e.Line-1], " "), "\t") {
			e.Msg += " (this line is indented with a tab: YAML indents with spaces only)"
		}
		return nil, e
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &Error{File: filename, Line: 1, Column: 1, Msg: "the file is empty: a scenario file needs at least `scenarios:`"}
	}
	p := d.plan(doc.Content[0])
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// yamlSyntaxError turns the YAML library's "yaml: line N: msg" into an
// Error with a 1-based line. The library counts scanner errors from 1 but
// parser errors ("did not find expected ...", reported where the enclosing
// list or mapping starts) from 0, and leaves the line out when it is the
// first.
func yamlSyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				line, msg = n, tail
			}
		}
	}
	if isYAMLParserError(msg) {
		line++
	}
	if line == 0 {
		line = 1
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

func isYAMLParserError(msg string) bool {
	for _, p := range []string{"did not find expected", "found undefined tag handle", "found duplicate %", "found incompatible YAML document"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	return data, nil
}

var topKeys = []string{"scenarios", "vars", "feeds", "thresholds", "options", "name", "target_service"}

// maxLabelBytes bounds name and target_service: what the hub keeps for a
// run's name and target service.
const maxLabelBytes = 1024

// planDecoder carries what later sections need from earlier ones.
type planDecoder struct {
	*decoder
	p          *Plan
	globals    map[string]string
	globalDefs map[string]*yaml.Node
	globalList []string
	feedIdx    map[string]int
}

func (d *decoder) plan(root *yaml.Node) *Plan {
	top := d.mapping(root, "", topKeys, "a mapping with scenarios, vars, feeds, thresholds, options, name and target_service")
	if d.failed() {
		return nil
	}
	pd := &planDecoder{decoder: d, p: &Plan{}, globals: map[string]string{}, globalDefs: map[string]*yaml.Node{}, feedIdx: map[string]int{}}
	opts := pd.options(top.get("options"))
	pd.vars(top.get("vars"))
	// name and target_service may use vars and {{env.NAME}}, so that one
	// file can aim at a service chosen when it runs.
	pd.p.Name = pd.label(top.get("name"), "name", "the run's name")
	pd.p.TargetService = pd.label(top.get("target_service"), "target_service", "the service under test, as the monitor names it (a Marathon app id, a Compose or Swarm service, a brink.service label)")
	pd.resolveOptionHeaders(opts.get("headers"))
	pd.feeds(top.get("feeds"))
	pd.thresholds(top.get("thresholds"))
	if d.failed() {
		return nil
	}
	if !top.has("scenarios") {
		d.fail(root, "scenarios", "missing: a scenario file needs at least one scenario under `scenarios:`")
		return nil
	}
	sc := d.mapping(top.get("scenarios"), "scenarios", nil, "a mapping of scenario names to scenarios")
	if d.failed() {
		return nil
	}
	if len(sc.keys) == 0 {
		d.fail(top.key["scenarios"], "scenarios", "no scenarios: add at least one, e.g. `scenarios: {browse: {vus: 10, duration: 30s, steps: [...]}}`")
		return nil
	}
	for _, name := range sc.keys {
		if !isColumnName(name) {
			d.fail(sc.key[name], join("scenarios", name), "scenario names may contain only letters, digits, _ and -")
			return nil
		}
		s := pd.scenario(name, sc.key[name], sc.val[name], join("scenarios", name))
		if d.failed() {
			return nil
		}
		pd.p.Scenarios = append(pd.p.Scenarios, s)
	}
	return pd.p
}

var optionKeys = []string{"timeout", "insecure", "http2", "max_conns_per_host", "headers"}

func (pd *planDecoder) options(n *yaml.Node) *fields {
	o := &pd.p.Options
	o.Timeout = DefaultTimeout
	f := pd.mapping(n, "options", optionKeys, "a mapping of options")
	if v := f.get("timeout"); v != nil {
		o.Timeout = pd.positiveDuration(v, "options.timeout")
	}
	if v := f.get("insecure"); v != nil {
		o.Insecure = pd.boolVal(v, "options.insecure")
	}
	if v := f.get("http2"); v != nil {
		o.HTTP2 = pd.boolVal(v, "options.http2")
	}
	if v := f.get("max_conns_per_host"); v != nil {
		o.MaxConnsPerHost = pd.intField(v, "options.max_conns_per_host", 0)
	}
	// headers are resolved after vars, which they may use.
	return f
}

// vars reads global variables. Values may use {{env.NAME}} and vars
// defined above them; they are fixed for the whole run.
func (pd *planDecoder) vars(n *yaml.Node) {
	f := pd.mapping(n, "vars", nil, "a mapping of variable names to values")
	for _, name := range f.keys {
		path := join("vars", name)
		if !isIdent(name) {
			pd.fail(f.key[name], path, "variable names must start with a letter or _ and contain only letters, digits, _ and -")
			return
		}
		if name == "env" {
			pd.fail(f.key[name], path, "env is reserved for environment variables ({{env.NAME}}); choose another name")
			return
		}
		vn := pd.resolve(f.val[name])
		raw, ok := pd.scalar(vn, path, "a value (string or number)")
		if !ok {
			return
		}
		v, ok := pd.staticString(vn, raw, path, "a global variable")
		if !ok {
			return
		}
		pd.globals[name] = v
		pd.globalDefs[name] = f.key[name]
		pd.globalList = append(pd.globalList, name)
	}
}

// staticString compiles raw with only env and globals allowed and returns
// its value.
func (pd *planDecoder) staticString(n *yaml.Node, raw, path, what string) (string, bool) {
	lits, refs, bad, msg := scanTemplate(raw)
	if bad >= 0 {
		line, col := pd.position(n, bad)
		pd.failAt(line, col, path, "%s", msg)
		return "", false
	}
	var b strings.Builder
	for i, r := range refs {
		b.WriteString(lits[i])
		v, ok := pd.staticRef(n, r, path, what)
		if !ok {
			return "", false
		}
		b.WriteString(v)
	}
	b.WriteString(lits[len(lits)-1])
	return b.String(), true
}

func (pd *planDecoder) staticRef(n *yaml.Node, r templateRef, path, what string) (string, bool) {
	line, col := pd.position(n, r.offset)
	head, tail, dotted := strings.Cut(r.expr, ".")
	switch {
	case head == "env" && dotted:
		v := pd.getenv(tail)
		if v == "" {
			pd.failAt(line, col, path, "environment variable %s is not set (referenced as {{%s}})", tail, r.expr)
			return "", false
		}
		return v, true
	case !dotted:
		if v, ok := pd.globals[r.expr]; ok {
			return v, true
		}
		pd.failAt(line, col, path, "unknown variable {{%s}}: %s may use only {{env.NAME}} and vars defined before it%s",
			r.expr, what, didYouMean(r.expr, pd.globalList))
		return "", false
	default:
		pd.failAt(line, col, path, "{{%s}}: %s may use only {{env.NAME}} and vars defined before it, not data feeds", r.expr, what)
		return "", false
	}
}

var feedKeys = []string{"file", "mode", "order"}

func (pd *planDecoder) feeds(n *yaml.Node) {
	f := pd.mapping(n, "feeds", nil, "a mapping of feed names to CSV files")
	for _, name := range f.keys {
		path := join("feeds", name)
		switch {
		case !isIdent(name):
			pd.fail(f.key[name], path, "feed names must start with a letter or _ and contain only letters, digits, _ and -")
		case name == "env":
			pd.fail(f.key[name], path, "env is reserved for environment variables ({{env.NAME}}); choose another name")
		case pd.globalDefs[name] != nil:
			pd.fail(f.key[name], path, "%q is already a variable in vars (line %d); feeds and variables need different names", name, pd.globalDefs[name].Line)
		}
		ff := pd.mapping(f.val[name], path, feedKeys, "a feed: {file: users.csv, mode: shared, order: sequential}")
		if pd.failed() {
			return
		}
		fd := &feed{name: name, shared: true}
		if !ff.has("file") {
			pd.fail(f.key[name], join(path, "file"), "missing: a feed needs the CSV file to read, e.g. file: users.csv")
			return
		}
		fileNode := ff.get("file")
		file := pd.str(fileNode, join(path, "file"))
		if v := ff.get("mode"); v != nil {
			switch m := pd.str(v, join(path, "mode")); m {
			case "shared":
				fd.shared = true
			case "per-vu":
				fd.shared = false
			default:
				pd.fail(v, join(path, "mode"), "unknown mode %q%s; use shared (one cursor for all VUs) or per-vu (a cursor per VU)",
					m, didYouMean(m, []string{"shared", "per-vu"}))
			}
		}
		if v := ff.get("order"); v != nil {
			switch o := pd.str(v, join(path, "order")); o {
			case "sequential":
				fd.random = false
			case "random":
				fd.random = true
			default:
				pd.fail(v, join(path, "order"), "unknown order %q%s; use sequential or random",
					o, didYouMean(o, []string{"sequential", "random"}))
			}
		}
		if pd.failed() {
			return
		}
		fd.path = pd.resolvePath(file)
		data, err := readLimited(fd.path, maxFeedBytes)
		if err != nil {
			pd.fail(fileNode, join(path, "file"), "cannot read the data file: %v", err)
			return
		}
		fd.columns, fd.rows, err = parseCSV(data)
		if err != nil {
			pd.fail(fileNode, join(path, "file"), "%s: %v", fd.path, err)
			return
		}
		pd.feedIdx[name] = len(pd.p.feeds)
		pd.p.feeds = append(pd.p.feeds, fd)
	}
}

func (pd *planDecoder) resolvePath(p string) string {
	if filepath.IsAbs(p) || pd.baseDir == "" {
		return p
	}
	return filepath.Join(pd.baseDir, p)
}

// label reads an optional one-line text at the top of the file: absent is
// "", present must be non-blank, at most maxLabelBytes, without control
// characters.
func (pd *planDecoder) label(n *yaml.Node, path, what string) string {
	if n == nil || pd.failed() {
		return ""
	}
	vn := pd.resolve(n)
	raw, ok := pd.scalar(vn, path, "a string: "+what)
	if !ok {
		return ""
	}
	v, ok := pd.staticString(vn, raw, path, path)
	if !ok {
		return ""
	}
	switch {
	case strings.TrimSpace(v) == "":
		pd.fail(vn, path, "is blank: give %s, or leave the key out", what)
	case len(v) > maxLabelBytes:
		pd.fail(vn, path, "is %d bytes long; at most %d fit", len(v), maxLabelBytes)
	case strings.ContainsFunc(v, unicode.IsControl):
		pd.fail(vn, path, "must be one line without control characters")
	default:
		return strings.TrimSpace(v)
	}
	return ""
}

func (pd *planDecoder) thresholds(n *yaml.Node) {
	for i, t := range pd.sequence(n, "thresholds", "threshold expressions such as p95<200ms", false) {
		path := index("thresholds", i)
		expr, ok := pd.scalar(t, path, "a threshold expression such as p95<200ms")
		if !ok {
			return
		}
		if _, err := threshold.Parse(expr); err != nil {
			pd.fail(t, path, "%v", err)
			return
		}
		pd.p.Thresholds = append(pd.p.Thresholds, expr)
	}
}

// resolveOptionHeaders is run after vars so option headers may use them.
func (pd *planDecoder) resolveOptionHeaders(n *yaml.Node) {
	f := pd.mapping(n, "options.headers", nil, "a mapping of header names to values")
	if len(f.keys) == 0 {
		return
	}
	pd.p.Options.Headers = map[string]string{}
	for _, name := range f.keys {
		path := join("options.headers", name)
		if !validHeaderName(name) {
			pd.fail(f.key[name], path, "%q is not a valid header name", name)
			return
		}
		vn := pd.resolve(f.val[name])
		raw, ok := pd.scalar(vn, path, "a header value")
		if !ok {
			return
		}
		v, ok := pd.staticString(vn, raw, path, "a header in options")
		if !ok {
			return
		}
		if strings.ContainsAny(v, "\r\n") {
			pd.fail(vn, path, "header values cannot contain line breaks")
			return
		}
		pd.p.Options.Headers[http.CanonicalHeaderKey(name)] = v
	}
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c > ' ' && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
		if !ok {
			return false
		}
	}
	return true
}

// ---- scenarios ----

// executorSettingKeys are the scenario keys that configure an executor.
var executorSettingKeys = []string{
	"vus", "duration", "iterations", "stages", "rate", "time_unit",
	"pre_allocated_vus", "max_vus", "start_rate", "start_vus", "graceful_stop", "start_time",
}

var scenarioKeys = append(append([]string{"executor"}, executorSettingKeys...), "think", "flows", "steps")

// executorKeys lists, per executor, the scenario keys that configure it.
var executorKeys = map[string][]string{
	ConstantVUs:         {"vus", "duration", "iterations", "start_time", "graceful_stop"},
	RampingVUs:          {"start_vus", "stages", "iterations", "start_time", "graceful_stop"},
	ConstantArrivalRate: {"rate", "time_unit", "duration", "iterations", "pre_allocated_vus", "max_vus", "start_time", "graceful_stop"},
	RampingArrivalRate:  {"start_rate", "stages", "time_unit", "iterations", "pre_allocated_vus", "max_vus", "start_time", "graceful_stop"},
}

// scenarioDecoder holds one scenario's pending templates: they are
// compiled after all its steps are read, once every extracted variable is
// known.
type scenarioDecoder struct {
	*planDecoder
	s       *Scenario
	path    string
	key     *yaml.Node // the scenario's name, where errors about missing settings point
	extDefs map[string]*yaml.Node
	pending []pendingTemplate
}

type pendingTemplate struct {
	node *yaml.Node
	raw  string
	path string
	dst  *template
}

func (pd *planDecoder) scenario(name string, key, n *yaml.Node, path string) *Scenario {
	f := pd.mapping(n, path, scenarioKeys, "a scenario: executor, its settings and steps or flows")
	if pd.failed() {
		return nil
	}
	s := &Scenario{Name: name, plan: pd.p, varSlots: map[string]int{}}
	sd := &scenarioDecoder{planDecoder: pd, s: s, path: path, key: key, extDefs: map[string]*yaml.Node{}}
	sd.executor(f)
	if pd.failed() {
		return nil
	}
	if v := f.get("think"); v != nil {
		s.Think = sd.think(v, join(path, "think"))
	}
	switch {
	case f.has("flows") && f.has("steps"):
		pd.fail(f.key["steps"], join(path, "steps"), "a scenario has either steps (one flow) or flows (weighted), not both")
	case f.has("flows"):
		sd.flows(f.get("flows"), join(path, "flows"))
	case f.has("steps"):
		fl := &Flow{Name: name, Weight: 1}
		fl.Steps = sd.steps(f.get("steps"), join(path, "steps"))
		s.Flows = []*Flow{fl}
	default:
		pd.fail(key, join(path, "steps"), "missing: a scenario needs steps (the requests each iteration makes) or flows")
	}
	if pd.failed() {
		return nil
	}
	sd.compileTemplates()
	if pd.failed() {
		return nil
	}
	s.usesFeeds = make([]bool, len(pd.p.feeds))
	var total float64
	for _, fl := range s.Flows {
		total += fl.Weight
		s.cumWeights = append(s.cumWeights, total)
		for _, st := range fl.Steps {
			st.prepare()
			sd.markFeeds(st)
		}
	}
	return s
}

func (sd *scenarioDecoder) executor(f *fields) {
	e := &sd.s.Executor
	e.Kind = ConstantVUs
	if v := f.get("executor"); v != nil {
		k := sd.str(v, join(sd.path, "executor"))
		if sd.failed() {
			return
		}
		if _, ok := executorKeys[k]; !ok {
			sd.fail(v, join(sd.path, "executor"), "unknown executor %q%s; use one of %s",
				k, didYouMean(k, executorKinds), strings.Join(executorKinds, ", "))
			return
		}
		e.Kind = k
	}
	allowed := executorKeys[e.Kind]
	for _, k := range f.keys {
		if !slices.Contains(executorSettingKeys, k) || slices.Contains(allowed, k) {
			continue
		}
		var users []string
		for _, kind := range executorKinds {
			if slices.Contains(executorKeys[kind], k) {
				users = append(users, kind)
			}
		}
		hint := fmt.Sprintf("it applies to %s", strings.Join(users, ", "))
		if k == "duration" && (e.Kind == RampingVUs || e.Kind == RampingArrivalRate) {
			hint = "a ramping executor takes its length from its stages"
		}
		sd.fail(f.key[k], join(sd.path, k), "%s does not apply to executor %s (%s)", k, e.Kind, hint)
		return
	}

	p := sd.path
	e.GracefulStop = DefaultGracefulStop
	e.TimeUnit = DefaultTimeUnit
	if v := f.get("start_time"); v != nil {
		e.StartTime = sd.duration(v, join(p, "start_time"))
	}
	if v := f.get("graceful_stop"); v != nil {
		e.GracefulStop = sd.duration(v, join(p, "graceful_stop"))
	}
	if v := f.get("iterations"); v != nil {
		e.Iterations = sd.intVal(v, join(p, "iterations"), 1)
	}
	if v := f.get("duration"); v != nil {
		e.Duration = sd.positiveDuration(v, join(p, "duration"))
	}
	unitWritten := f.has("time_unit")
	if unitWritten {
		e.TimeUnit = sd.positiveDuration(f.get("time_unit"), join(p, "time_unit"))
	}
	if sd.failed() {
		return
	}
	// rateIn converts a rate written with its own unit ("6000/m") to the
	// executor's time unit.
	rateIn := func(n *yaml.Node, path string) float64 {
		v, unit := sd.rate(n, path)
		if unit == 0 || sd.failed() {
			return v
		}
		if unitWritten && unit != e.TimeUnit {
			sd.fail(n, path, "the rate has its own unit (/%s) and time_unit is %s: write one or the other", shortDuration(unit), shortDuration(e.TimeUnit))
			return 0
		}
		if !unitWritten {
			// A rate's own unit becomes the time unit when none is set,
			// so 6000/m means 6000 per minute exactly.
			e.TimeUnit, unitWritten = unit, true
			return v
		}
		return v
	}

	switch e.Kind {
	case ConstantVUs:
		e.VUs = 1
		if v := f.get("vus"); v != nil {
			e.VUs = sd.intField(v, join(p, "vus"), 1)
		}
		if !f.has("duration") && !f.has("iterations") {
			sd.fail(sd.key, join(p, "duration"), "missing: constant-vus needs a duration (e.g. duration: 1m), iterations, or both")
		}
	case RampingVUs:
		if v := f.get("start_vus"); v != nil {
			e.StartVUs = sd.intField(v, join(p, "start_vus"), 0)
		}
		e.Stages = sd.stages(f, p, func(n *yaml.Node, path string) float64 {
			return float64(sd.intField(n, path, 0))
		})
	case ConstantArrivalRate:
		if !f.has("rate") {
			sd.fail(sd.key, join(p, "rate"), "missing: constant-arrival-rate needs a rate, e.g. rate: 100/s")
			return
		}
		e.Rate = rateIn(f.get("rate"), join(p, "rate"))
		if !sd.failed() && e.Rate <= 0 {
			sd.fail(f.get("rate"), join(p, "rate"), "must be greater than 0")
		}
		if !f.has("duration") {
			sd.fail(f.key["rate"], join(p, "duration"), "missing: a rate needs a duration to run for, e.g. duration: 1m")
		}
	case RampingArrivalRate:
		if v := f.get("start_rate"); v != nil {
			e.StartRate = rateIn(v, join(p, "start_rate"))
		}
		e.Stages = sd.stages(f, p, rateIn)
	}
	if sd.failed() {
		return
	}
	if e.Kind == ConstantArrivalRate || e.Kind == RampingArrivalRate {
		var preNode, maxNode *yaml.Node = f.get("pre_allocated_vus"), f.get("max_vus")
		if preNode != nil {
			e.PreAllocatedVUs = sd.intField(preNode, join(p, "pre_allocated_vus"), 1)
		}
		if maxNode != nil {
			e.MaxVUs = sd.intField(maxNode, join(p, "max_vus"), 1)
		}
		if !sd.failed() && preNode != nil && maxNode != nil && e.MaxVUs < e.PreAllocatedVUs {
			sd.fail(maxNode, join(p, "max_vus"), "max_vus (%d) is below pre_allocated_vus (%d)", e.MaxVUs, e.PreAllocatedVUs)
			return
		}
		defaultPool(e)
	}
}

// defaultPool sizes an arrival-rate executor's VU pool where the file or
// flags leave it out: pre-allocate enough VUs for iterations of 100 ms at
// the peak rate, and allow up to enough for iterations of 2 s.
func defaultPool(e *ExecutorConfig) {
	peak := e.PeakRatePerSecond()
	pre := max(10, int(math.Ceil(peak/10)))
	limit := max(100, int(math.Ceil(peak*2)))
	switch {
	case e.PreAllocatedVUs == 0 && e.MaxVUs == 0:
		e.PreAllocatedVUs, e.MaxVUs = pre, limit
	case e.PreAllocatedVUs == 0:
		e.PreAllocatedVUs = min(pre, e.MaxVUs)
	case e.MaxVUs == 0:
		e.MaxVUs = max(e.PreAllocatedVUs, limit)
	}
}

var stageKeys = []string{"target", "duration"}

func (sd *scenarioDecoder) stages(f *fields, p string, target func(*yaml.Node, string) float64) []Stage {
	path := join(p, "stages")
	if !f.has("stages") {
		sd.fail(sd.key, path, "missing: a ramping executor needs stages, e.g. stages: [{target: 50, duration: 30s}, {target: 0, duration: 10s}]")
		return nil
	}
	items := sd.sequence(f.get("stages"), path, "stages {target, duration}", false)
	if sd.failed() {
		return nil
	}
	if len(items) == 0 {
		sd.fail(f.get("stages"), path, "empty: add at least one stage {target, duration}")
		return nil
	}
	var out []Stage
	var total time.Duration
	for i, it := range items {
		ip := index(path, i)
		sf := sd.mapping(it, ip, stageKeys, "a stage {target, duration}")
		if sd.failed() {
			return nil
		}
		for _, k := range stageKeys {
			if !sf.has(k) {
				sd.fail(it, join(ip, k), "missing: a stage needs target and duration")
				return nil
			}
		}
		st := Stage{Target: target(sf.get("target"), join(ip, "target")), Duration: sd.duration(sf.get("duration"), join(ip, "duration"))}
		total += st.Duration
		out = append(out, st)
	}
	if !sd.failed() && total == 0 {
		sd.fail(f.get("stages"), path, "the stages add up to no time: give at least one stage a duration")
	}
	return out
}

func (sd *scenarioDecoder) think(n *yaml.Node, path string) Think {
	s, ok := sd.scalar(n, path, "a think time: 500ms, uniform(1s, 3s) or exponential(2s)")
	if !ok {
		return Think{}
	}
	t, err := parseThink(s)
	if err != nil {
		sd.fail(n, path, "%v", err)
	}
	if t.Max > maxDuration || t.Duration > maxDuration || t.Mean > maxDuration {
		sd.fail(n, path, "longer than the limit of %s", shortDuration(maxDuration))
	}
	return t
}

var flowKeys = []string{"name", "weight", "steps"}

func (sd *scenarioDecoder) flows(n *yaml.Node, path string) {
	items := sd.sequence(n, path, "flows {name, weight, steps}", false)
	if !sd.failed() && len(items) == 0 {
		sd.fail(n, path, "empty: add at least one flow {name, weight, steps}")
	}
	names := map[string]*yaml.Node{}
	for i, it := range items {
		ip := index(path, i)
		f := sd.mapping(it, ip, flowKeys, "a flow {name, weight, steps}")
		if sd.failed() {
			return
		}
		fl := &Flow{Name: fmt.Sprintf("flow-%d", i+1), Weight: 1}
		if v := f.get("name"); v != nil {
			fl.Name = sd.str(v, join(ip, "name"))
			if prev := names[fl.Name]; prev != nil && !sd.failed() {
				sd.fail(v, join(ip, "name"), "flow %q is already defined at line %d", fl.Name, prev.Line)
				return
			}
			names[fl.Name] = v
		}
		if v := f.get("weight"); v != nil {
			fl.Weight = sd.number(v, join(ip, "weight"))
			if !sd.failed() && fl.Weight <= 0 {
				sd.fail(v, join(ip, "weight"), "must be greater than 0 (a flow that should never run can be removed)")
			}
			if !sd.failed() && fl.Weight > 1e12 {
				sd.fail(v, join(ip, "weight"), "must be at most 1e12")
			}
		}
		if !f.has("steps") {
			sd.fail(it, join(ip, "steps"), "missing: a flow needs steps")
			return
		}
		fl.Steps = sd.steps(f.get("steps"), join(ip, "steps"))
		sd.s.Flows = append(sd.s.Flows, fl)
	}
}

var stepKeys = []string{"name", "method", "url", "headers", "body", "timeout", "think", "check", "extract"}

func (sd *scenarioDecoder) steps(n *yaml.Node, path string) []*Step {
	items := sd.sequence(n, path, "steps {name, method, url, ...}", false)
	if !sd.failed() && len(items) == 0 {
		sd.fail(n, path, "empty: add at least one step {name, url}")
	}
	var out []*Step
	for i, it := range items {
		st := sd.step(it, index(path, i))
		if sd.failed() {
			return nil
		}
		out = append(out, st)
	}
	return out
}

func (sd *scenarioDecoder) step(n *yaml.Node, path string) *Step {
	f := sd.mapping(n, path, stepKeys, "a step {name, method, url, headers, body, check, extract}")
	if sd.failed() {
		return nil
	}
	st := &Step{Method: http.MethodGet, Timeout: sd.p.Options.Timeout}
	if v := f.get("method"); v != nil {
		m := sd.str(v, join(path, "method"))
		if up := strings.ToUpper(m); slices.Contains(standardMethods, up) {
			m = up
		}
		if !sd.failed() && !validHeaderName(m) {
			sd.fail(v, join(path, "method"), "%q is not a valid HTTP method", m)
		}
		st.Method = m
	}
	if !f.has("url") {
		sd.fail(n, join(path, "url"), "missing: a step needs a url, e.g. url: http://127.0.0.1:8080/")
		return nil
	}
	urlNode := sd.resolve(f.get("url"))
	urlRaw, _ := sd.scalar(urlNode, join(path, "url"), "a URL")
	st.url = sd.later(urlNode, urlRaw, join(path, "url"))
	st.Name = st.Method + " " + urlRaw
	if v := f.get("name"); v != nil {
		st.Name = sd.str(v, join(path, "name"))
		if !sd.failed() && strings.TrimSpace(st.Name) == "" {
			sd.fail(v, join(path, "name"), "a step name cannot be blank")
		}
	}
	if v := f.get("timeout"); v != nil {
		st.Timeout = sd.positiveDuration(v, join(path, "timeout"))
	}
	if v := f.get("think"); v != nil {
		st.Think = sd.think(v, join(path, "think"))
	}
	sd.stepHeaders(st, f.get("headers"), join(path, "headers"))
	if v := f.get("body"); v != nil {
		sd.body(st, v, join(path, "body"))
	}
	if v := f.get("check"); v != nil {
		sd.checks(st, v, join(path, "check"))
	}
	if v := f.get("extract"); v != nil {
		sd.extracts(st, v, join(path, "extract"))
	}
	return st
}

var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// later queues raw for compilation once the scenario's variables are known.
func (sd *scenarioDecoder) later(n *yaml.Node, raw, path string) *template {
	t := &template{raw: raw}
	sd.pending = append(sd.pending, pendingTemplate{node: n, raw: raw, path: path, dst: t})
	return t
}

func (sd *scenarioDecoder) stepHeaders(st *Step, n *yaml.Node, path string) {
	f := sd.mapping(n, path, nil, "a mapping of header names to values")
	own := map[string]bool{}
	for _, name := range f.keys {
		hp := join(path, name)
		if !validHeaderName(name) {
			sd.fail(f.key[name], hp, "%q is not a valid header name", name)
			return
		}
		canon := http.CanonicalHeaderKey(name)
		if own[canon] {
			sd.fail(f.key[name], hp, "header %s is set twice (header names ignore case)", canon)
			return
		}
		own[canon] = true
		vn := sd.resolve(f.val[name])
		raw, ok := sd.scalar(vn, hp, "a header value")
		if !ok {
			return
		}
		st.headers = append(st.headers, headerTemplate{name: canon, value: sd.later(vn, raw, hp)})
	}
	// Plan-wide headers (Options.Headers) are layered under these by the
	// engine, so that command-line overrides of them apply too.
}

// body is an inline template, or "@path" for a file sent as is ("@@" at
// the start stands for a literal "@").
func (sd *scenarioDecoder) body(st *Step, n *yaml.Node, path string) {
	n = sd.resolve(n)
	if n != nil && n.Kind != yaml.ScalarNode {
		sd.fail(n, path, "expected the body as a string (use a block string `body: |` for JSON), or @file, got %s", kindName(n))
		return
	}
	raw, ok := sd.scalar(n, path, "the body as a string, or @file")
	if !ok {
		return
	}
	switch {
	case strings.HasPrefix(raw, "@@"):
		st.body = sd.later(n, raw[1:], path)
	case strings.HasPrefix(raw, "@"):
		file := sd.resolvePath(strings.TrimPrefix(raw, "@"))
		data, err := readLimited(file, maxFileBytes)
		if err != nil {
			sd.fail(n, path, "cannot read the body file: %v", err)
			return
		}
		st.fixed = data
	default:
		st.body = sd.later(n, raw, path)
	}
}

var checkKeys = []string{"status", "headers", "body_contains", "body_not_contains", "body_regex", "json"}

func (sd *scenarioDecoder) checks(st *Step, n *yaml.Node, path string) {
	f := sd.mapping(n, path, checkKeys, "checks: status, headers, body_contains, body_not_contains, body_regex, json")
	if sd.failed() {
		return
	}
	if v := f.get("status"); v != nil {
		st.checks = append(st.checks, sd.statusCheck(v, join(path, "status")))
	}
	if v := f.get("headers"); v != nil {
		sd.headerChecks(st, v, join(path, "headers"))
	}
	for _, key := range []string{"body_contains", "body_not_contains"} {
		bp := join(path, key)
		list := sd.resolve(f.get(key))
		for i, it := range sd.sequence(list, bp, "strings", true) {
			ip := bp
			if list.Kind == yaml.SequenceNode {
				ip = index(bp, i)
			}
			raw, ok := sd.scalar(it, ip, "a string to look for in the body")
			if !ok {
				return
			}
			if raw == "" {
				sd.fail(it, ip, "an empty string is in every body: give the text to look for")
				return
			}
			st.checks = append(st.checks, &bodyCheck{value: sd.later(it, raw, ip), not: key == "body_not_contains"})
		}
	}
	if v := sd.resolve(f.get("body_regex")); v != nil {
		for i, it := range sd.sequence(v, join(path, "body_regex"), "regular expressions", true) {
			ip := join(path, "body_regex")
			if v.Kind == yaml.SequenceNode {
				ip = index(ip, i)
			}
			if re := sd.regex(it, ip); re != nil {
				st.checks = append(st.checks, &bodyRegexCheck{re: re})
			}
		}
	}
	if v := f.get("json"); v != nil {
		sd.jsonChecks(st, v, join(path, "json"))
	}
}

func (sd *scenarioDecoder) regex(n *yaml.Node, path string) *regexp.Regexp {
	s, ok := sd.scalar(n, path, "a regular expression")
	if !ok {
		return nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		sd.fail(n, path, "invalid regular expression: %v", err)
		return nil
	}
	return re
}

// statusCheck reads 200, "2xx", or a list of them.
func (sd *scenarioDecoder) statusCheck(n *yaml.Node, path string) *statusCheck {
	c := &statusCheck{}
	n = sd.resolve(n)
	items := sd.sequence(n, path, "status codes", true)
	if !sd.failed() && len(items) == 0 {
		sd.fail(n, path, "empty: give a status such as 200, 2xx or [200, 404]")
	}
	var want []string
	for i, it := range items {
		ip := path
		if n.Kind == yaml.SequenceNode {
			ip = index(path, i)
		}
		s, ok := sd.scalar(it, ip, "a status such as 200 or 2xx")
		if !ok {
			return c
		}
		want = append(want, s)
		if len(s) == 3 && s[0] >= '1' && s[0] <= '5' && strings.EqualFold(s[1:], "xx") {
			c.classes = append(c.classes, int(s[0]-'0'))
			continue
		}
		code, err := strconv.Atoi(s)
		if err != nil || code < 100 || code > 599 {
			sd.fail(it, ip, "expected a status code (100-599) or a class such as 2xx, got %s", kindName(it))
			return c
		}
		c.codes = append(c.codes, code)
	}
	c.want = strings.Join(want, " or ")
	return c
}

// matcher reads a check's expectation: a plain value (equals) or a mapping
// with exactly one of the given operators.
func (sd *scenarioDecoder) matcher(n *yaml.Node, path string, ops []string) (op string, v *yaml.Node) {
	n = sd.resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		return "equals", n
	}
	f := sd.mapping(n, path, ops, "a value to equal, or one of "+strings.Join(ops, ", "))
	if sd.failed() {
		return "", nil
	}
	if len(f.keys) != 1 {
		sd.fail(n, path, "give exactly one of %s", strings.Join(ops, ", "))
		return "", nil
	}
	return f.keys[0], sd.resolve(f.val[f.keys[0]])
}

func (sd *scenarioDecoder) headerChecks(st *Step, n *yaml.Node, path string) {
	f := sd.mapping(n, path, nil, "a mapping of header names to expected values")
	for _, name := range f.keys {
		hp := join(path, name)
		if !validHeaderName(name) {
			sd.fail(f.key[name], hp, "%q is not a valid header name", name)
			return
		}
		c := &headerCheck{name: http.CanonicalHeaderKey(name)}
		op, v := sd.matcher(f.val[name], hp, []string{"equals", "contains", "regex", "exists"})
		if sd.failed() {
			return
		}
		switch op {
		case "equals", "contains":
			raw, ok := sd.scalar(v, join(hp, op), "a header value")
			if !ok {
				return
			}
			c.op, c.value = opContains, sd.later(v, raw, join(hp, op))
			if op == "equals" {
				c.op = opEquals
			}
		case "regex":
			c.op, c.re = opRegex, sd.regex(v, join(hp, "regex"))
		case "exists":
			c.op = opAbsent
			if sd.boolVal(v, join(hp, "exists")) {
				c.op = opExists
			}
		}
		st.checks = append(st.checks, c)
	}
}

func (sd *scenarioDecoder) jsonChecks(st *Step, n *yaml.Node, path string) {
	f := sd.mapping(n, path, nil, "a mapping of JSON paths to expected values")
	for _, key := range f.keys {
		jp := join(path, key)
		p, err := compileJSONPath(key)
		if err != nil {
			sd.fail(f.key[key], jp, "%v", err)
			return
		}
		c := &jsonCheck{path: p}
		op, v := sd.matcher(f.val[key], jp, []string{"equals", "exists", "regex"})
		if sd.failed() {
			return
		}
		switch op {
		case "equals":
			if isNull(v) && v.Value != "" {
				// An explicit null (or ~) expects JSON null.
				c.op, c.value, c.want = opEquals, &template{raw: "null", lit: "null"}, wantLiteral
				break
			}
			raw, ok := sd.scalar(v, jp, "a value (write null to expect JSON null)")
			if !ok {
				return
			}
			c.op, c.value = opEquals, sd.later(v, raw, jp)
			switch v.Tag {
			case "!!int", "!!float":
				c.want = wantNumber
				if _, err := strconv.ParseFloat(strings.ReplaceAll(raw, "_", ""), 64); err != nil {
					sd.fail(v, jp, "%q is not a number JSON can hold; quote it to compare text", raw)
					return
				}
				c.value = &template{raw: raw, lit: strings.ReplaceAll(raw, "_", "")}
			case "!!bool":
				b, err := strconv.ParseBool(raw)
				if err != nil {
					sd.fail(v, jp, "%q is not true or false; quote it to compare text", raw)
					return
				}
				c.want, c.value = wantLiteral, &template{raw: raw, lit: strconv.FormatBool(b)}
			}
		case "regex":
			c.op, c.re = opRegex, sd.regex(v, join(jp, "regex"))
		case "exists":
			c.op = opAbsent
			if sd.boolVal(v, join(jp, "exists")) {
				c.op = opExists
			}
		}
		st.checks = append(st.checks, c)
	}
}

var extractKeys = []string{"json", "header", "regex"}

func (sd *scenarioDecoder) extracts(st *Step, n *yaml.Node, path string) {
	f := sd.mapping(n, path, nil, "a mapping of variable names to sources ({json: PATH}, {header: NAME}, {regex: RE})")
	for _, name := range f.keys {
		xp := join(path, name)
		switch {
		case !isIdent(name):
			sd.fail(f.key[name], xp, "variable names must start with a letter or _ and contain only letters, digits, _ and -")
		case name == "env":
			sd.fail(f.key[name], xp, "env is reserved for environment variables; choose another name")
		case sd.globalDefs[name] != nil:
			sd.fail(f.key[name], xp, "%q is a global variable (vars, line %d) and cannot be extracted into; choose another name", name, sd.globalDefs[name].Line)
		default:
			if _, isFeed := sd.feedIdx[name]; isFeed {
				sd.fail(f.key[name], xp, "%q is a data feed and cannot be extracted into; choose another name", name)
			}
		}
		xf := sd.mapping(f.val[name], xp, extractKeys, "a source: {json: PATH}, {header: NAME, regex: RE} or {regex: RE}")
		if sd.failed() {
			return
		}
		x := extract{name: name}
		switch {
		case xf.has("json"):
			if xf.has("header") || xf.has("regex") {
				sd.fail(xf.node, xp, "json cannot be combined with header or regex: use one source")
				return
			}
			x.source = fromJSON
			jn := xf.get("json")
			raw := sd.str(jn, join(xp, "json"))
			if sd.failed() {
				return
			}
			p, err := compileJSONPath(raw)
			if err != nil {
				sd.fail(jn, join(xp, "json"), "%v", err)
				return
			}
			x.path = p
		case xf.has("header"):
			x.source = fromHeader
			hn := xf.get("header")
			h := sd.str(hn, join(xp, "header"))
			if !sd.failed() && !validHeaderName(h) {
				sd.fail(hn, join(xp, "header"), "%q is not a valid header name", h)
			}
			x.header = http.CanonicalHeaderKey(h)
			if xf.has("regex") {
				x.re = sd.regex(xf.get("regex"), join(xp, "regex"))
			}
		case xf.has("regex"):
			x.source = fromBody
			x.re = sd.regex(xf.get("regex"), join(xp, "regex"))
		default:
			sd.fail(xf.node, xp, "missing source: give json: PATH, header: NAME (with optional regex), or regex: RE for the body")
		}
		if sd.failed() {
			return
		}
		slot, ok := sd.s.varSlots[name]
		if !ok {
			slot = len(sd.s.varNames)
			sd.s.varSlots[name] = slot
			sd.s.varNames = append(sd.s.varNames, name)
			sd.extDefs[name] = f.key[name]
		}
		x.slot = slot
		st.extracts = append(st.extracts, x)
	}
}

// compileTemplates resolves every {{reference}} of the scenario now that
// its extracted variables are known.
func (sd *scenarioDecoder) compileTemplates() {
	for _, pt := range sd.pending {
		lits, refs, bad, msg := scanTemplate(pt.raw)
		if bad >= 0 {
			line, col := sd.position(pt.node, bad)
			sd.failAt(line, col, pt.path, "%s", msg)
			return
		}
		t := pt.dst
		for i, r := range refs {
			t.segs = append(t.segs, segment{kind: segLiteral, lit: lits[i]})
			seg, ok := sd.ref(pt, r)
			if !ok {
				return
			}
			t.segs = append(t.segs, seg)
		}
		t.segs = append(t.segs, segment{kind: segLiteral, lit: lits[len(lits)-1]})
		t.simplify()
		if t.static() && strings.HasSuffix(pt.path, ".url") {
			if err := checkURL(t.lit); err != nil {
				sd.fail(pt.node, pt.path, "%v", err)
				return
			}
		}
		if t.static() && strings.Contains(pt.path, ".headers.") && !strings.Contains(pt.path, ".check.") && strings.ContainsAny(t.lit, "\r\n") {
			sd.fail(pt.node, pt.path, "header values cannot contain line breaks")
			return
		}
	}
}

func (sd *scenarioDecoder) ref(pt pendingTemplate, r templateRef) (segment, bool) {
	head, tail, dotted := strings.Cut(r.expr, ".")
	line, col := sd.position(pt.node, r.offset)
	if head == "env" && dotted {
		v, ok := sd.staticRef(pt.node, r, pt.path, "")
		return segment{kind: segLiteral, lit: v}, ok
	}
	if dotted {
		fi, ok := sd.feedIdx[head]
		if !ok {
			names := []string{"env"}
			for _, f := range sd.p.feeds {
				names = append(names, f.name)
			}
			sd.failAt(line, col, pt.path, "unknown data feed %q in {{%s}}%s; define it under feeds:", head, r.expr, didYouMean(head, names))
			return segment{}, false
		}
		f := sd.p.feeds[fi]
		c := slices.Index(f.columns, tail)
		if c < 0 {
			sd.failAt(line, col, pt.path, "data feed %q has no column %q%s; its columns are %s",
				head, tail, didYouMean(tail, f.columns), strings.Join(f.columns, ", "))
			return segment{}, false
		}
		return segment{kind: segFeed, name: r.expr, feed: fi, column: c}, true
	}
	if v, ok := sd.globals[r.expr]; ok {
		return segment{kind: segLiteral, lit: v}, true
	}
	if slot, ok := sd.s.varSlots[r.expr]; ok {
		return segment{kind: segVar, name: r.expr, slot: slot}, true
	}
	known := append(slices.Clone(sd.globalList), sd.s.varNames...)
	sd.failAt(line, col, pt.path, "unknown variable {{%s}}: it is not in vars and no step of scenario %q extracts it%s",
		r.expr, sd.s.Name, didYouMean(r.expr, known))
	return segment{}, false
}

func checkURL(s string) error {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return fmt.Errorf("URL %q must start with http:// or https://", clip(s))
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL: %v", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q must start with http:// or https://", clip(s))
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", clip(s))
	}
	return nil
}

func (sd *scenarioDecoder) markFeeds(st *Step) {
	mark := func(t *template) {
		if t == nil {
			return
		}
		for _, s := range t.segs {
			if s.kind == segFeed {
				sd.s.usesFeeds[s.feed] = true
				sd.s.usesAnyFeed = true
			}
		}
	}
	mark(st.url)
	mark(st.body)
	for _, h := range st.headers {
		mark(h.value)
	}
	for _, c := range st.checks {
		switch c := c.(type) {
		case *headerCheck:
			mark(c.value)
		case *bodyCheck:
			mark(c.value)
		case *jsonCheck:
			mark(c.value)
		}
	}
}
