// Package naming gives containers the names people know them by: the
// service a container belongs to, resolved from its orchestrator's labels
// and environment, and the few labels and environment variables an
// operator chose to export.
package naming

import (
	"path"
	"regexp"
	"strings"

	"github.com/brinkhq/brink/internal/monitor/metrics"
)

// Input is what is known about a container.
type Input struct {
	// Name is the container's name without Docker's leading slash, or the
	// last element of a raw cgroup's path.
	Name string
	// CgroupPath is the container's cgroup ("/docker/<id>", "/mesos/<uuid>").
	CgroupPath string
	Labels     map[string]string
	Env        map[string]string
}

// Rule names the rule that produced a service name, for /api/v1/containers.
type Rule string

// The rules, in the order they are tried.
const (
	RuleLabel      Rule = "label"      // brink.service label
	RuleMarathon   Rule = "marathon"   // MARATHON_APP_ID in the environment
	RuleSwarm      Rule = "swarm"      // com.docker.swarm.service.name
	RuleCompose    Rule = "compose"    // com.docker.compose.project + .service
	RuleKubernetes Rule = "kubernetes" // io.kubernetes.pod.namespace/pod.name/container.name
	RuleMesos      Rule = "mesos"      // Mesos container ID from a mesos-<id> name or /mesos/<id> cgroup
	RuleName       Rule = "name"       // the container name
)

// ServiceLabel is the container label that names a service explicitly.
const ServiceLabel = "brink.service"

// Service resolves the service a container belongs to:
//
//  1. the brink.service label;
//  2. Marathon: MARATHON_APP_ID from the environment (e.g. "/shop/web");
//  3. Swarm: com.docker.swarm.service.name;
//  4. Compose: "<project>/<service>" from com.docker.compose.project and
//     com.docker.compose.service (the service alone without a project);
//  5. Kubernetes: "<namespace>/<pod>/<container>" from the io.kubernetes.*
//     labels the kubelet sets;
//  6. Mesos: the Mesos container ID, from a Docker name "mesos-<id>" or
//     "mesos-<agent>.<id>", or a Mesos containerizer cgroup "/mesos/<id>";
//  7. otherwise the container's name.
func Service(in Input) (string, Rule) {
	if v := in.Labels[ServiceLabel]; v != "" {
		return v, RuleLabel
	}
	if v := in.Env["MARATHON_APP_ID"]; v != "" {
		return v, RuleMarathon
	}
	if v := in.Labels["com.docker.swarm.service.name"]; v != "" {
		return v, RuleSwarm
	}
	if svc := in.Labels["com.docker.compose.service"]; svc != "" {
		if p := in.Labels["com.docker.compose.project"]; p != "" {
			return p + "/" + svc, RuleCompose
		}
		return svc, RuleCompose
	}
	if pod := in.Labels["io.kubernetes.pod.name"]; pod != "" {
		parts := []string{}
		if ns := in.Labels["io.kubernetes.pod.namespace"]; ns != "" {
			parts = append(parts, ns)
		}
		parts = append(parts, pod)
		if c := in.Labels["io.kubernetes.container.name"]; c != "" {
			parts = append(parts, c)
		}
		return strings.Join(parts, "/"), RuleKubernetes
	}
	if id := MesosContainerID(in.Name, in.CgroupPath); id != "" {
		return id, RuleMesos
	}
	return in.Name, RuleName
}

// mesosName matches the names Mesos' Docker containerizer gives
// containers: mesos-<container id> or mesos-<agent id>.<container id>.
var mesosName = regexp.MustCompile(`^mesos-(?:[0-9A-Za-z-]+-S[0-9]+\.)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// mesosCgroup matches the cgroups of the Mesos containerizer: /mesos/<id>.
var mesosCgroup = regexp.MustCompile(`^/mesos/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// MesosContainerID returns the Mesos container ID in a Docker container
// name or a cgroup path, or "".
func MesosContainerID(name, cgroupPath string) string {
	if m := mesosName.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	if m := mesosCgroup.FindStringSubmatch(path.Clean(cgroupPath)); m != nil {
		return m[1]
	}
	return ""
}

// Exports is the allow-list of container labels and environment variables
// exported as Prometheus labels, as cAdvisor names them:
// container_label_<key> and container_env_<key>, with every character
// outside [a-zA-Z0-9_] replaced by '_'. Nothing outside the lists is ever
// exported: labels and environments can hold secrets and would multiply
// series.
type Exports struct {
	Labels []string
	Env    []string
}

// DefaultExports are the keys exported unless configured otherwise: the
// orchestrator identities that are not already the service label.
func DefaultExports() Exports {
	return Exports{
		Labels: []string{
			"com.docker.compose.project", "com.docker.compose.service",
			"com.docker.swarm.service.name", "com.docker.swarm.task.name",
			"io.kubernetes.pod.namespace", "io.kubernetes.pod.name", "io.kubernetes.container.name",
		},
		Env: []string{"MARATHON_APP_ID", "MESOS_TASK_ID"},
	}
}

// Prometheus labels that exported keys must not overwrite.
var reserved = map[string]bool{"container": true, "host": true, "id": true, "image": true, "name": true, "service": true}

// Export returns the allow-listed labels and environment variables of in
// as Prometheus labels. When two keys sanitize to the same label name, the
// first in the allow-list wins.
func (e Exports) Export(in Input) []metrics.Label {
	var out []metrics.Label
	seen := map[string]bool{}
	add := func(prefix, key string, vals map[string]string) {
		v, ok := vals[key]
		if !ok || v == "" {
			return
		}
		name := prefix + metrics.SanitizeLabelName(key)
		if seen[name] || reserved[name] {
			return
		}
		seen[name] = true
		out = append(out, metrics.Label{Name: name, Value: v})
	}
	for _, k := range e.Labels {
		add("container_label_", k, in.Labels)
	}
	for _, k := range e.Env {
		add("container_env_", k, in.Env)
	}
	return out
}

// ParseEnv turns Docker's KEY=VALUE list into a map, keeping only keys
// that keep says to (the service rules and the allow-list need a handful
// of variables; the rest of an environment is never held in memory).
func ParseEnv(env []string, keep func(key string) bool) map[string]string {
	var m map[string]string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !keep(k) {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	return m
}

// WantedEnv reports whether an environment variable is needed for naming
// or export.
func (e Exports) WantedEnv(key string) bool {
	if key == "MARATHON_APP_ID" || key == "MESOS_TASK_ID" {
		return true
	}
	for _, k := range e.Env {
		if k == key {
			return true
		}
	}
	return false
}
