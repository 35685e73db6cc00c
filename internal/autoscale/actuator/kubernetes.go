package actuator

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubernetesConfig names a Deployment or StatefulSet. Replicas are set
// through its scale subresource, as the HorizontalPodAutoscaler does.
type KubernetesConfig struct {
	Kubeconfig string `yaml:"kubeconfig"` // path; "" for in-cluster configuration
	Namespace  string `yaml:"namespace"`  // default "default"
	Kind       string `yaml:"kind"`       // Deployment (default) or StatefulSet
	Name       string `yaml:"name"`       // the workload's name
	Port       int    `yaml:"port"`       // container port the load balancer sends traffic to
}

// Validate checks the configuration and fills defaults.
func (c *KubernetesConfig) Validate() error {
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	switch c.Kind {
	case "":
		c.Kind = "Deployment"
	case "Deployment", "StatefulSet":
	default:
		return fmt.Errorf("kubernetes: kind %q must be Deployment or StatefulSet", c.Kind)
	}
	if c.Name == "" {
		return fmt.Errorf("kubernetes: name (of the %s) is required", c.Kind)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("kubernetes: port %d is not a TCP port", c.Port)
	}
	return nil
}

// Kubernetes scales a Deployment or StatefulSet. The ReplicaSet controller
// chooses which pods go; pods with a deletion timestamp are terminating and
// are drained at the load balancer at once.
type Kubernetes struct {
	cs      kubernetes.Interface
	service string
	cfg     KubernetesConfig
}

// NewKubernetes uses the clientset cs (a real one or client-go's fake).
func NewKubernetes(service string, cfg KubernetesConfig, cs kubernetes.Interface) (*Kubernetes, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("service %q: %w", service, err)
	}
	return &Kubernetes{cs: cs, service: service, cfg: cfg}, nil
}

// NewKubernetesFromConfig builds a clientset from the kubeconfig file (or
// the in-cluster service account).
func NewKubernetesFromConfig(service string, cfg KubernetesConfig) (*Kubernetes, error) {
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig == "" {
		rc, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("service %q: kubernetes: no kubeconfig given and not running in a cluster: %w (set kubeconfig: in the policy)", service, err)
		}
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("service %q: kubernetes: load kubeconfig %s: %w", service, cfg.Kubeconfig, err)
		}
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("service %q: kubernetes: %w", service, err)
	}
	return NewKubernetes(service, cfg, cs)
}

func (k *Kubernetes) where() string {
	return k.cfg.Kind + " " + k.cfg.Namespace + "/" + k.cfg.Name
}

func (k *Kubernetes) getScale(ctx context.Context) (*autoscalingv1.Scale, error) {
	opts := metav1.GetOptions{}
	if k.cfg.Kind == "StatefulSet" {
		return k.cs.AppsV1().StatefulSets(k.cfg.Namespace).GetScale(ctx, k.cfg.Name, opts)
	}
	return k.cs.AppsV1().Deployments(k.cfg.Namespace).GetScale(ctx, k.cfg.Name, opts)
}

// SetReplicas writes spec.replicas through the scale subresource.
func (k *Kubernetes) SetReplicas(ctx context.Context, n int) error {
	sc, err := k.getScale(ctx)
	if err != nil {
		return fmt.Errorf("kubernetes: get scale of %s: %w", k.where(), err)
	}
	sc.Spec.Replicas = int32(n)
	opts := metav1.UpdateOptions{}
	if k.cfg.Kind == "StatefulSet" {
		_, err = k.cs.AppsV1().StatefulSets(k.cfg.Namespace).UpdateScale(ctx, k.cfg.Name, sc, opts)
	} else {
		_, err = k.cs.AppsV1().Deployments(k.cfg.Namespace).UpdateScale(ctx, k.cfg.Name, sc, opts)
	}
	if err != nil {
		return fmt.Errorf("kubernetes: scale %s to %d: %w", k.where(), n, err)
	}
	return nil
}

// Replicas lists the workload's pods (by the scale subresource's selector).
func (k *Kubernetes) Replicas(ctx context.Context) ([]Replica, error) {
	sc, err := k.getScale(ctx)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: get scale of %s: %w", k.where(), err)
	}
	sel, err := labels.Parse(sc.Status.Selector)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: selector %q of %s: %w", sc.Status.Selector, k.where(), err)
	}
	if sc.Status.Selector == "" {
		return nil, fmt.Errorf("kubernetes: %s reports no pod selector in its scale status yet", k.where())
	}
	pods, err := k.cs.CoreV1().Pods(k.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: list pods of %s: %w", k.where(), err)
	}
	var out []Replica
	for _, p := range pods.Items {
		st, alive := podState(&p)
		if !alive {
			continue
		}
		r := Replica{ID: string(p.UID), Name: p.Name, State: st, Created: p.CreationTimestamp.Time}
		if r.ID == "" {
			r.ID = p.Name
		}
		if p.Status.PodIP != "" && k.cfg.Port > 0 {
			r.Addr = net.JoinHostPort(p.Status.PodIP, strconv.Itoa(k.cfg.Port))
		}
		ready := podReady(&p)
		r.Healthy = &ready
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func podState(p *corev1.Pod) (ReplicaState, bool) {
	if p.DeletionTimestamp != nil {
		return Terminating, true
	}
	switch p.Status.Phase {
	case corev1.PodRunning:
		return Running, true
	case corev1.PodPending, "":
		return Starting, true
	}
	return Terminating, false // Succeeded, Failed, Unknown
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
