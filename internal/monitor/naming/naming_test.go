package naming

import (
	"reflect"
	"testing"

	"github.com/brinkhq/brink/internal/monitor/metrics"
)

func TestService(t *testing.T) {
	const uuid = "9b8f3c1e-2d4a-4f6b-8c7d-0e1f2a3b4c5d"
	tests := []struct {
		name     string
		in       Input
		want     string
		wantRule Rule
	}{
		{"label wins over everything", Input{Name: "mesos-" + uuid,
			Labels: map[string]string{"brink.service": "checkout", "com.docker.swarm.service.name": "x"},
			Env:    map[string]string{"MARATHON_APP_ID": "/shop/web"}}, "checkout", RuleLabel},
		{"marathon app id", Input{Name: "mesos-" + uuid,
			Env: map[string]string{"MARATHON_APP_ID": "/shop/web", "MESOS_TASK_ID": "shop_web." + uuid}}, "/shop/web", RuleMarathon},
		{"marathon wins over swarm", Input{Name: "x",
			Labels: map[string]string{"com.docker.swarm.service.name": "swarmy"},
			Env:    map[string]string{"MARATHON_APP_ID": "/m"}}, "/m", RuleMarathon},
		{"swarm", Input{Name: "web.1.abcdef", Labels: map[string]string{"com.docker.swarm.service.name": "web",
			"com.docker.compose.service": "c"}}, "web", RuleSwarm},
		{"compose", Input{Name: "shop-web-1", Labels: map[string]string{
			"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}}, "shop/web", RuleCompose},
		{"compose without project", Input{Name: "web-1", Labels: map[string]string{"com.docker.compose.service": "web"}}, "web", RuleCompose},
		{"kubernetes", Input{Name: "k8s_web_web-5d8f-abcde_default_123_0", Labels: map[string]string{
			"io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.name": "web-5d8f-abcde",
			"io.kubernetes.container.name": "web"}}, "default/web-5d8f-abcde/web", RuleKubernetes},
		{"mesos docker name", Input{Name: "mesos-" + uuid}, uuid, RuleMesos},
		{"mesos docker name with agent id", Input{Name: "mesos-0d7c2a4b-1234-4cde-9f00-aabbccddeeff-S3." + uuid}, uuid, RuleMesos},
		{"mesos containerizer cgroup", Input{Name: uuid, CgroupPath: "/mesos/" + uuid}, uuid, RuleMesos},
		{"mesos containerizer cgroup with marathon env", Input{Name: uuid, CgroupPath: "/mesos/" + uuid,
			Env: map[string]string{"MARATHON_APP_ID": "/shop/api"}}, "/shop/api", RuleMarathon},
		{"not quite mesos", Input{Name: "mesos-web"}, "mesos-web", RuleName},
		{"plain name", Input{Name: "redis"}, "redis", RuleName},
		{"empty label falls through", Input{Name: "n", Labels: map[string]string{"brink.service": ""}}, "n", RuleName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rule := Service(tt.in)
			if got != tt.want || rule != tt.wantRule {
				t.Errorf("Service = %q (%s), want %q (%s)", got, rule, tt.want, tt.wantRule)
			}
		})
	}
}

func TestExport(t *testing.T) {
	e := Exports{
		Labels: []string{"com.docker.compose.service", "com.docker.compose/service", "absent", "name", "empty"},
		Env:    []string{"MESOS_TASK_ID", "SECRET_NOT_LISTED_BUT_PRESENT"},
	}
	in := Input{
		Labels: map[string]string{"com.docker.compose.service": "web", "com.docker.compose/service": "shadowed",
			"other": "not exported", "empty": ""},
		Env: map[string]string{"MESOS_TASK_ID": "t1", "PASSWORD": "hunter2"},
	}
	got := e.Export(in)
	want := []metrics.Label{
		{Name: "container_label_com_docker_compose_service", Value: "web"},
		{Name: "container_env_MESOS_TASK_ID", Value: "t1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestParseEnvKeepsOnlyWanted(t *testing.T) {
	e := DefaultExports()
	got := ParseEnv([]string{"PATH=/bin", "MARATHON_APP_ID=/a=b", "MESOS_TASK_ID=x", "PASSWORD=p", "NOVALUE"}, e.WantedEnv)
	want := map[string]string{"MARATHON_APP_ID": "/a=b", "MESOS_TASK_ID": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if ParseEnv(nil, e.WantedEnv) != nil {
		t.Error("no environment should give a nil map")
	}
}
