package scenario

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// S is a minimal valid scenario body that error cases extend.
const okSteps = "    steps: [{url: \"http://127.0.0.1:9/\"}]\n"

// errorCases: each bad file, and where its error must point (line:col and
// field). The full messages are in testdata/errors.golden.
var errorCases = []struct {
	name string
	src  string
	at   string // "line:col field"
}{
	// Document structure.
	{"yaml syntax", "scenarios:\n  a: [1, 2\n", "2:0 "},
	{"yaml tab indent", "scenarios:\n\ta: 1\n", "2:0 "},
	{"empty file", "", "1:1 "},
	{"only a comment", "# nothing\n", "1:1 "},
	{"top level is a list", "- scenarios\n", "1:1 "},
	{"unknown top key", "scenario:\n  a: {}\n", "1:1 scenario"},
	{"unknown top key far from any", "zzz: 1\n", "1:1 zzz"},
	{"duplicate key", "scenarios:\n  a: {vus: 1, duration: 1s, steps: [{url: \"http://127.0.0.1:9/\"}]}\n  a: {}\n", "3:3 scenarios.a"},
	{"complex key", "scenarios:\n  ? [a]\n  : 1\n", "2:5 scenarios"},
	{"missing scenarios", "vars: {a: 1}\n", "1:1 scenarios"},
	{"empty scenarios", "scenarios: {}\n", "1:1 scenarios"},
	{"scenarios is a list", "scenarios:\n  - a\n", "2:3 scenarios"},
	{"bad scenario name", "scenarios:\n  a b:\n    duration: 1s\n" + okSteps, "2:3 scenarios.a b"},
	{"alias bomb", aliasBomb(), "5:30 "},

	// Run labels.
	{"name is a list", "name: [a, b]\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:7 name"},
	{"name blank", "name: \"  \"\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:7 name"},
	{"name null", "name:\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:6 name"},
	{"name two lines", "name: \"a\\nb\"\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:7 name"},
	{"name too long", "name: " + strings.Repeat("n", 1025) + "\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:7 name"},
	{"target service unknown var", "vars: {svc: web}\ntarget_service: \"{{sevice}}\"\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:18 target_service"},
	{"target service unset env", "target_service: \"{{env.SERVICE}}\"\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:18 target_service"},
	{"target service is a mapping", "target_service: {name: web}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:17 target_service"},
	{"target service typo", "target_servce: web\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:1 target_servce"},

	// Options.
	{"timeout without unit", "options: {timeout: 30}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:20 options.timeout"},
	{"timeout zero", "options: {timeout: 0s}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:20 options.timeout"},
	{"insecure yes", "options: {insecure: yes}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:21 options.insecure"},
	{"negative conns", "options: {max_conns_per_host: -1}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:31 options.max_conns_per_host"},
	{"bad option header name", "options:\n  headers: {\"X Y\": 1}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 options.headers.X Y"},
	{"option header uses a feed", "feeds: {u: {file: users.csv}}\noptions:\n  headers: {X-User: \"{{u.name}}\"}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "3:22 options.headers.X-User"},
	{"option header line break", "options:\n  headers: {X-A: \"a\\nb\"}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:18 options.headers.X-A"},
	{"unknown option", "options: {timout: 1s}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:11 options.timout"},
	{"options is a string", "options: fast\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:10 options"},

	// Global variables.
	{"bad var name", "vars: {1x: a}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:8 vars.1x"},
	{"var named env", "vars: {env: a}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:8 vars.env"},
	{"var is a list", "vars:\n  hosts: [a, b]\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:10 vars.hosts"},
	{"var uses a later var", "vars:\n  a: \"{{b}}/x\"\n  b: y\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:7 vars.a"},
	{"var uses an unset env", "vars:\n  t: \"Bearer {{ env.NOPE }}\"\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:14 vars.t"},
	{"var unterminated", "vars:\n  t: x{{y\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:7 vars.t"},
	{"var uses a feed", "vars:\n  t: \"{{users.name}}\"\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:7 vars.t"},

	// Data feeds.
	{"feed without file", "feeds:\n  users: {mode: shared}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:3 feeds.users.file"},
	{"feed file missing", "feeds:\n  users: {file: nope.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:17 feeds.users.file"},
	{"feed duplicate column", "feeds:\n  f: {file: bad.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 feeds.f.file"},
	{"feed ragged rows", "feeds:\n  f: {file: ragged.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 feeds.f.file"},
	{"feed without rows", "feeds:\n  f: {file: header.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 feeds.f.file"},
	{"feed empty file", "feeds:\n  f: {file: empty.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 feeds.f.file"},
	{"feed bad column name", "feeds:\n  f: {file: badcol.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 feeds.f.file"},
	{"feed is a directory", "feeds:\n  f: {file: .}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:13 feeds.f.file"},
	{"feed bad mode", "feeds:\n  f: {file: users.csv, mode: pervu}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:30 feeds.f.mode"},
	{"feed bad order", "feeds:\n  f: {file: users.csv, order: shuffled}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:31 feeds.f.order"},
	{"feed unknown key", "feeds:\n  f: {file: users.csv, path: x}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:24 feeds.f.path"},
	{"feed named like a var", "vars: {users: x}\nfeeds:\n  users: {file: users.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "3:3 feeds.users"},
	{"feed named env", "feeds:\n  env: {file: users.csv}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:3 feeds.env"},

	// Thresholds.
	{"bad threshold", "thresholds:\n  - p95<200ms\n  - p96<1s\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "3:5 thresholds[1]"},
	{"thresholds not a list", "thresholds: p95<200ms\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "1:13 thresholds"},
	{"threshold is a mapping", "thresholds:\n  - {p95: 200ms}\nscenarios:\n  a:\n    duration: 1s\n" + okSteps, "2:5 thresholds[0]"},

	// Executors.
	{"unknown executor", "scenarios:\n  a:\n    executor: constant-vu\n    duration: 1s\n" + okSteps, "3:15 scenarios.a.executor"},
	{"rate on constant-vus", "scenarios:\n  a:\n    vus: 2\n    rate: 10\n    duration: 1s\n" + okSteps, "4:5 scenarios.a.rate"},
	{"duration on ramping-vus", "scenarios:\n  a:\n    executor: ramping-vus\n    duration: 1m\n    stages: [{target: 1, duration: 1s}]\n" + okSteps, "4:5 scenarios.a.duration"},
	{"vus on arrival rate", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    vus: 10\n    rate: 1\n    duration: 1s\n" + okSteps, "4:5 scenarios.a.vus"},
	{"constant-vus without an end", "scenarios:\n  a:\n    vus: 2\n" + okSteps, "2:3 scenarios.a.duration"},
	{"zero vus", "scenarios:\n  a:\n    vus: 0\n    duration: 1s\n" + okSteps, "3:10 scenarios.a.vus"},
	{"vus is text", "scenarios:\n  a:\n    vus: ten\n    duration: 1s\n" + okSteps, "3:10 scenarios.a.vus"},
	{"vus too many", "scenarios:\n  a:\n    vus: 100000000\n    duration: 1s\n" + okSteps, "3:10 scenarios.a.vus"},
	{"zero iterations", "scenarios:\n  a:\n    iterations: 0\n" + okSteps, "3:17 scenarios.a.iterations"},
	{"ramping without stages", "scenarios:\n  a:\n    executor: ramping-vus\n" + okSteps, "2:3 scenarios.a.stages"},
	{"empty stages", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: []\n" + okSteps, "4:13 scenarios.a.stages"},
	{"stages not a list", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: {target: 1}\n" + okSteps, "4:13 scenarios.a.stages"},
	{"stage without duration", "scenarios:\n  a:\n    executor: ramping-vus\n    stages:\n      - {target: 10}\n" + okSteps, "5:9 scenarios.a.stages[0].duration"},
	{"stage unknown key", "scenarios:\n  a:\n    executor: ramping-vus\n    stages:\n      - {target: 10, duraton: 1s}\n" + okSteps, "5:22 scenarios.a.stages[0].duraton"},
	{"stages with no time", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: [{target: 10, duration: 0s}]\n" + okSteps, "4:13 scenarios.a.stages"},
	{"fractional VU target", "scenarios:\n  a:\n    executor: ramping-vus\n    stages: [{target: 2.5, duration: 1s}]\n" + okSteps, "4:23 scenarios.a.stages[0].target"},
	{"arrival rate without rate", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    duration: 1m\n" + okSteps, "2:3 scenarios.a.rate"},
	{"rate without duration", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 100/s\n" + okSteps, "4:5 scenarios.a.duration"},
	{"zero rate", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 0\n    duration: 1s\n" + okSteps, "4:11 scenarios.a.rate"},
	{"rate is text", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: fast\n    duration: 1s\n" + okSteps, "4:11 scenarios.a.rate"},
	{"rate with a bad unit", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 10/week\n    duration: 1s\n" + okSteps, "4:11 scenarios.a.rate"},
	{"rate unit and time_unit", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 100/s\n    time_unit: 1m\n    duration: 1s\n" + okSteps, "4:11 scenarios.a.rate"},
	{"stage rate unit and time_unit", "scenarios:\n  a:\n    executor: ramping-arrival-rate\n    time_unit: 1m\n    stages: [{target: 10/s, duration: 1s}]\n" + okSteps, "5:23 scenarios.a.stages[0].target"},
	{"negative rate", "scenarios:\n  a:\n    executor: ramping-arrival-rate\n    start_rate: -5\n    stages: [{target: 1, duration: 1s}]\n" + okSteps, "4:17 scenarios.a.start_rate"},
	{"max below pre-allocated", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 1\n    duration: 1s\n    pre_allocated_vus: 10\n    max_vus: 5\n" + okSteps, "7:14 scenarios.a.max_vus"},
	{"zero time unit", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 1\n    time_unit: 0s\n    duration: 1s\n" + okSteps, "5:16 scenarios.a.time_unit"},
	{"negative duration", "scenarios:\n  a:\n    duration: -1s\n" + okSteps, "3:15 scenarios.a.duration"},
	{"bad duration", "scenarios:\n  a:\n    duration: 1 minute\n" + okSteps, "3:15 scenarios.a.duration"},
	{"huge duration", "scenarios:\n  a:\n    duration: 10000h\n" + okSteps, "3:15 scenarios.a.duration"},
	{"bad iteration think", "scenarios:\n  a:\n    duration: 1s\n    think: uniform(2s)\n" + okSteps, "4:12 scenarios.a.think"},
	{"unknown scenario key", "scenarios:\n  a:\n    duration: 1s\n    step: []\n", "4:5 scenarios.a.step"},

	// Flows.
	{"steps and flows", "scenarios:\n  a:\n    duration: 1s\n    flows: []\n" + okSteps, "5:5 scenarios.a.steps"},
	{"no steps", "scenarios:\n  a:\n    duration: 1s\n", "2:3 scenarios.a.steps"},
	{"empty flows", "scenarios:\n  a:\n    duration: 1s\n    flows: []\n", "4:12 scenarios.a.flows"},
	{"zero weight", "scenarios:\n  a:\n    duration: 1s\n    flows:\n      - {weight: 0, steps: [{url: \"http://127.0.0.1:9/\"}]}\n", "5:18 scenarios.a.flows[0].weight"},
	{"negative weight", "scenarios:\n  a:\n    duration: 1s\n    flows:\n      - {weight: -2, steps: [{url: \"http://127.0.0.1:9/\"}]}\n", "5:18 scenarios.a.flows[0].weight"},
	{"weight is text", "scenarios:\n  a:\n    duration: 1s\n    flows:\n      - {weight: high, steps: [{url: \"http://127.0.0.1:9/\"}]}\n", "5:18 scenarios.a.flows[0].weight"},
	{"duplicate flow name", "scenarios:\n  a:\n    duration: 1s\n    flows:\n      - {name: x, steps: [{url: \"http://127.0.0.1:9/\"}]}\n      - {name: x, steps: [{url: \"http://127.0.0.1:9/\"}]}\n", "6:16 scenarios.a.flows[1].name"},
	{"flow without steps", "scenarios:\n  a:\n    duration: 1s\n    flows:\n      - {name: x}\n", "5:9 scenarios.a.flows[0].steps"},
	{"flow unknown key", "scenarios:\n  a:\n    duration: 1s\n    flows:\n      - {name: x, wieght: 2}\n", "5:19 scenarios.a.flows[0].wieght"},

	// Steps.
	{"empty steps", "scenarios:\n  a:\n    duration: 1s\n    steps: []\n", "4:12 scenarios.a.steps"},
	{"step is a string", "scenarios:\n  a:\n    duration: 1s\n    steps: [http://127.0.0.1:9/]\n", "4:13 scenarios.a.steps[0]"},
	{"step without url", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - name: home\n", "5:9 scenarios.a.steps[0].url"},
	{"url not http", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: ftp://127.0.0.1/x\n", "5:14 scenarios.a.steps[0].url"},
	{"url without host", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"http:///x\"\n", "5:14 scenarios.a.steps[0].url"},
	{"url relative", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: /x\n", "5:14 scenarios.a.steps[0].url"},
	{"url invalid", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"http://127.0.0.1:9/%zz\"\n", "5:14 scenarios.a.steps[0].url"},
	{"unknown step key", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        heders: {A: b}\n", "6:9 scenarios.a.steps[0].heders"},
	{"bad method", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - {method: \"GE T\", url: http://127.0.0.1:9/}\n", "5:18 scenarios.a.steps[0].method"},
	{"blank step name", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - {name: \" \", url: http://127.0.0.1:9/}\n", "5:16 scenarios.a.steps[0].name"},
	{"zero step timeout", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - {timeout: 0s, url: http://127.0.0.1:9/}\n", "5:19 scenarios.a.steps[0].timeout"},
	{"unquoted comma in a flow mapping", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - {think: uniform(1s, 2s), url: http://127.0.0.1:9/}\n", "5:29 scenarios.a.steps[0].2s)"},
	{"bad step think", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - {think: soon, url: http://127.0.0.1:9/}\n", "5:17 scenarios.a.steps[0].think"},
	{"bad header name", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        headers: {\"Bad:Name\": x}\n", "6:19 scenarios.a.steps[0].headers.Bad:Name"},
	{"header twice", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        headers: {accept: x, Accept: y}\n", "6:30 scenarios.a.steps[0].headers.Accept"},
	{"header is a list", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        headers: {Accept: [a, b]}\n", "6:27 scenarios.a.steps[0].headers.Accept"},
	{"header line break", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        headers: {X-A: \"a\\r\\nb: c\"}\n", "6:24 scenarios.a.steps[0].headers.X-A"},
	{"body is a mapping", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        body: {a: 1}\n", "6:15 scenarios.a.steps[0].body"},
	{"body file missing", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        body: \"@nope.json\"\n", "6:15 scenarios.a.steps[0].body"},

	// Templates and variables.
	{"unknown variable", "vars: {base: \"http://127.0.0.1:9\"}\nscenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"{{bsae}}/x\"\n", "6:15 scenarios.a.steps[0].url"},
	{"variable never extracted", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"http://127.0.0.1:9/?t={{token}}\"\n", "5:37 scenarios.a.steps[0].url"},
	{"variable extracted in another scenario", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - {url: \"http://127.0.0.1:9/\", extract: {token: {json: t}}}\n  b:\n    duration: 1s\n    steps:\n      - {url: \"http://127.0.0.1:9/{{token}}\"}\n", "9:35 scenarios.b.steps[0].url"},
	{"unknown feed", "feeds: {users: {file: users.csv}}\nscenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"http://127.0.0.1:9/{{user.name}}\"\n", "6:34 scenarios.a.steps[0].url"},
	{"unknown column", "feeds: {users: {file: users.csv}}\nscenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"http://127.0.0.1:9/{{users.nmae}}\"\n", "6:34 scenarios.a.steps[0].url"},
	{"unset env in a step", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        headers: {Authorization: \"Bearer {{env.API_KEY}}\"}\n", "6:42 scenarios.a.steps[0].headers.Authorization"},
	{"bad reference", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: \"http://127.0.0.1:9/{{a b}}\"\n", "5:34 scenarios.a.steps[0].url"},
	{"empty reference", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: 'http://127.0.0.1:9/{{ }}'\n", "5:34 scenarios.a.steps[0].url"},
	{"unterminated reference", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/{{x\n", "5:33 scenarios.a.steps[0].url"},
	{"reference in a block body", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        method: POST\n        body: |\n          {\"a\": 1,\n            \"b\": \"{{nope}}\"}\n", "9:19 scenarios.a.steps[0].body"},

	// Checks.
	{"unknown check", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {stauts: 200}\n", "6:17 scenarios.a.steps[0].check.stauts"},
	{"status out of range", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {status: [200, 99]}\n", "6:31 scenarios.a.steps[0].check.status[1]"},
	{"status class typo", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {status: 2xy}\n", "6:25 scenarios.a.steps[0].check.status"},
	{"status empty list", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {status: []}\n", "6:25 scenarios.a.steps[0].check.status"},
	{"header check two ops", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {headers: {Server: {equals: a, contains: b}}}\n", "6:35 scenarios.a.steps[0].check.headers.Server"},
	{"header check no op", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {headers: {Server: {}}}\n", "6:35 scenarios.a.steps[0].check.headers.Server"},
	{"header check unknown op", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {headers: {Server: {contain: a}}}\n", "6:36 scenarios.a.steps[0].check.headers.Server.contain"},
	{"header exists not bool", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {headers: {Server: {exists: maybe}}}\n", "6:44 scenarios.a.steps[0].check.headers.Server.exists"},
	{"body_contains empty", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {body_contains: [ok, \"\"]}\n", "6:37 scenarios.a.steps[0].check.body_contains[1]"},
	{"body_not_contains mapping", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {body_not_contains: {a: b}}\n", "6:36 scenarios.a.steps[0].check.body_not_contains"},
	{"bad body regex", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {body_regex: \"(unclosed\"}\n", "6:29 scenarios.a.steps[0].check.body_regex"},
	{"bad json path", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {json: {\"a[x]\": 1}}\n", "6:24 scenarios.a.steps[0].check.json.a[x]"},
	{"json check empty value", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check:\n          json:\n            id:\n", "8:16 scenarios.a.steps[0].check.json.id"},
	{"json check unknown op", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {json: {id: {contains: 1}}}\n", "6:29 scenarios.a.steps[0].check.json.id.contains"},
	{"json check bad regex", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {json: {id: {regex: \"[\"}}}\n", "6:36 scenarios.a.steps[0].check.json.id.regex"},
	{"json check unknown variable", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: {json: {id: \"{{idd}}\"}}\n", "6:29 scenarios.a.steps[0].check.json.id"},
	{"check is a list", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        check: [200]\n", "6:16 scenarios.a.steps[0].check"},

	// Extraction.
	{"extract into a global", "vars: {token: x}\nscenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {token: {json: t}}\n", "7:19 scenarios.a.steps[0].extract.token"},
	{"extract into a feed", "feeds: {users: {file: users.csv}}\nscenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {users: {json: t}}\n", "7:19 scenarios.a.steps[0].extract.users"},
	{"extract bad name", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {a.b: {json: t}}\n", "6:19 scenarios.a.steps[0].extract.a.b"},
	{"extract into env", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {env: {json: t}}\n", "6:19 scenarios.a.steps[0].extract.env"},
	{"extract two sources", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: {json: t, header: X-T}}\n", "6:22 scenarios.a.steps[0].extract.t"},
	{"extract no source", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: {}}\n", "6:22 scenarios.a.steps[0].extract.t"},
	{"extract bad json path", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: {json: \"a.\"}}\n", "6:29 scenarios.a.steps[0].extract.t.json"},
	{"extract bad header", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: {header: \"X T\"}}\n", "6:31 scenarios.a.steps[0].extract.t.header"},
	{"extract unknown key", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: {jsn: a}}\n", "6:23 scenarios.a.steps[0].extract.t.jsn"},
	{"extract bad regex", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: {regex: \"a(\"}}\n", "6:30 scenarios.a.steps[0].extract.t.regex"},
	{"extract shorthand", "scenarios:\n  a:\n    duration: 1s\n    steps:\n      - url: http://127.0.0.1:9/\n        extract: {t: data.t}\n", "6:22 scenarios.a.steps[0].extract.t"},
}

// aliasBomb expands to over a million values through nested aliases while
// staying a few kilobytes long.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("scenarios:\n  a:\n    duration: 1s\n    flows:\n")
	b.WriteString("      - {steps: &l [&s {url: \"http://127.0.0.1:9/\"}" + strings.Repeat(", *s", 999) + "]}\n")
	b.WriteString("      - {steps: *l}\n")
	for range 1500 {
		b.WriteString("      - {steps: *l}\n")
	}
	return b.String()
}

func TestErrors(t *testing.T) {
	dir := writeFiles(t, defaultData)
	var golden strings.Builder
	for _, tt := range errorCases {
		p, err := ParseEnv("s.yaml", []byte(tt.src), dir, testEnv)
		if err == nil {
			t.Errorf("%s: parsed without error: %+v", tt.name, p)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T %v is not a *scenario.Error", tt.name, err, err)
			continue
		}
		if got := fmt.Sprintf("%d:%d %s", pe.Line, pe.Column, pe.Field); got != tt.at {
			t.Errorf("%s: error at %q, want %q\n  %v", tt.name, got, tt.at, err)
		}
		msg := strings.ReplaceAll(err.Error(), dir, "DIR")
		fmt.Fprintf(&golden, "%s\n\t%s\n", tt.name, msg)
	}
	checkGolden(t, "errors.golden", golden.String())
}

// The top-level keys of the file are checked in the table; this checks
// that a key that was not a typo gets no suggestion.
func TestErrorsNoSuggestion(t *testing.T) {
	_, err := ParseEnv("s.yaml", []byte("zzz: 1\n"), "", testEnv)
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("err = %v", err)
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/scenario -update` to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s differs at line %d:\n got %q\nwant %q\n(run with -update if the change is intended)", path, i+1, g, w)
				return
			}
		}
	}
}
