package actuator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// scaleSubresource makes the fake clientset answer the scale subresource
// of Deployments and StatefulSets from the objects in its tracker, as the
// API server does (the fake has no subresource logic of its own).
func scaleSubresource(cs *fake.Clientset) {
	for _, res := range []string{"deployments", "statefulsets"} {
		res := res
		cs.PrependReactor("get", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			g := a.(k8stesting.GetAction)
			if g.GetSubresource() != "scale" {
				return false, nil, nil
			}
			replicas, selector, err := workload(cs, res, g.GetNamespace(), g.GetName())
			if err != nil {
				return true, nil, err
			}
			return true, &autoscalingv1.Scale{
				ObjectMeta: metav1.ObjectMeta{Name: g.GetName(), Namespace: g.GetNamespace()},
				Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
				Status:     autoscalingv1.ScaleStatus{Replicas: replicas, Selector: selector},
			}, nil
		})
		cs.PrependReactor("update", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			u := a.(k8stesting.UpdateAction)
			if u.GetSubresource() != "scale" {
				return false, nil, nil
			}
			sc := u.GetObject().(*autoscalingv1.Scale)
			// Reactors run under the fake's lock: write through the tracker,
			// not through the clientset.
			gvr := appsv1.SchemeGroupVersion.WithResource(res)
			switch res {
			case "deployments":
				d, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource(res), u.GetNamespace(), sc.Name)
				if err != nil {
					return true, nil, err
				}
				dep := d.(*appsv1.Deployment).DeepCopy()
				dep.Spec.Replicas = &sc.Spec.Replicas
				if err := cs.Tracker().Update(gvr, dep, u.GetNamespace()); err != nil {
					return true, nil, err
				}
			case "statefulsets":
				s, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource(res), u.GetNamespace(), sc.Name)
				if err != nil {
					return true, nil, err
				}
				ss := s.(*appsv1.StatefulSet).DeepCopy()
				ss.Spec.Replicas = &sc.Spec.Replicas
				if err := cs.Tracker().Update(gvr, ss, u.GetNamespace()); err != nil {
					return true, nil, err
				}
			}
			return true, sc, nil
		})
	}
}

func workload(cs *fake.Clientset, res, ns, name string) (int32, string, error) {
	obj, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource(res), ns, name)
	if err != nil {
		return 0, "", err
	}
	var replicas *int32
	var sel *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.Deployment:
		replicas, sel = o.Spec.Replicas, o.Spec.Selector
	case *appsv1.StatefulSet:
		replicas, sel = o.Spec.Replicas, o.Spec.Selector
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return 0, "", err
	}
	return *replicas, s.String(), nil
}

func pod(name, ip string, phase corev1.PodPhase, ready bool, deleting bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": "web"},
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
		Status: corev1.PodStatus{Phase: phase, PodIP: ip},
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func TestKubernetesActuator(t *testing.T) {
	three := int32(3)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	cs := fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			Spec: appsv1.DeploymentSpec{Replicas: &three, Selector: sel}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
			Spec: appsv1.StatefulSetSpec{Replicas: &three, Selector: sel}},
		pod("web-a", "127.0.0.1", corev1.PodRunning, true, false),
		pod("web-b", "127.0.0.2", corev1.PodPending, false, false),
		pod("web-c", "127.0.0.3", corev1.PodRunning, true, true),
		pod("web-d", "127.0.0.4", corev1.PodSucceeded, false, false),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "shop", Labels: map[string]string{"app": "other"}}},
	)
	scaleSubresource(cs)
	ctx := context.Background()

	k, err := NewKubernetes("web", KubernetesConfig{Namespace: "shop", Name: "web", Port: 8080}, cs)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := k.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, addr string
		state      ReplicaState
		ready      bool
	}{
		{"web-a", "127.0.0.1:8080", Running, true},
		{"web-b", "127.0.0.2:8080", Starting, false},
		{"web-c", "127.0.0.3:8080", Terminating, true},
	}
	if len(reps) != len(want) {
		t.Fatalf("replicas %+v", reps)
	}
	for i, w := range want {
		r := reps[i]
		if r.Name != w.name || r.Addr != w.addr || r.State != w.state || r.Healthy == nil || *r.Healthy != w.ready {
			t.Errorf("replica %d = %+v, want %+v", i, r, w)
		}
	}

	for _, tt := range []struct {
		kind, name string
	}{{"Deployment", "web"}, {"StatefulSet", "db"}} {
		k, err := NewKubernetes("web", KubernetesConfig{Namespace: "shop", Kind: tt.kind, Name: tt.name}, cs)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.SetReplicas(ctx, 5); err != nil {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		var got int32
		if tt.kind == "Deployment" {
			d, _ := cs.AppsV1().Deployments("shop").Get(ctx, tt.name, metav1.GetOptions{})
			got = *d.Spec.Replicas
		} else {
			s, _ := cs.AppsV1().StatefulSets("shop").Get(ctx, tt.name, metav1.GetOptions{})
			got = *s.Spec.Replicas
		}
		if got != 5 {
			t.Errorf("%s spec.replicas = %d after scaling to 5", tt.kind, got)
		}
	}
	// The scale subresource was used, never a write of the whole object by the actuator.
	var scaleUpdates int
	for _, a := range cs.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "scale" {
			scaleUpdates++
		}
	}
	if scaleUpdates != 2 {
		t.Errorf("%d scale subresource updates, want 2", scaleUpdates)
	}

	missing, _ := NewKubernetes("web", KubernetesConfig{Namespace: "shop", Name: "nope"}, cs)
	if err := missing.SetReplicas(ctx, 2); err == nil || !strings.Contains(err.Error(), "Deployment shop/nope") {
		t.Fatalf("missing deployment: %v", err)
	}
	cs.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`deployments.apps "web" is forbidden: User "brink" cannot update resource "deployments/scale"`)
	})
	if err := k.SetReplicas(ctx, 2); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("forbidden scale: %v", err)
	}
	for _, bad := range []KubernetesConfig{{Name: ""}, {Name: "x", Kind: "DaemonSet"}, {Name: "x", Port: 70000}} {
		if _, err := NewKubernetes("web", bad, cs); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
