// Package deploy holds the deployment files (Kubernetes manifests, the
// Grafana dashboard and its provisioning, Prometheus' configuration); its
// tests check them against pg2kafka itself.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pg2kafka/pg2kafka/config"
)

// k8sObject is the part of a Kubernetes object these tests read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data      map[string]string `yaml:"data"`
	Resources []string          `yaml:"resources"`
	Spec      struct {
		Replicas *int `yaml:"replicas"`
		// Selector is a Deployment's {matchLabels: ...} or a Service's
		// labels.
		Selector map[string]any `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Ports are a Service's.
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// readK8s parses every object of every file kustomization.yaml lists.
func readK8s(t *testing.T) map[string]k8sObject {
	t.Helper()
	kust := readObjects(t, "k8s/kustomization.yaml")
	if len(kust) != 1 || kust[0].Kind != "Kustomization" {
		t.Fatalf("k8s/kustomization.yaml: %+v", kust)
	}
	objs := map[string]k8sObject{}
	for _, file := range kust[0].Resources {
		for _, o := range readObjects(t, filepath.Join("k8s", file)) {
			objs[o.Kind] = o
		}
	}
	files, _ := filepath.Glob("k8s/*.yaml")
	if len(files) != len(kust[0].Resources)+1 {
		t.Errorf("k8s/ holds %v; kustomization.yaml lists %v", files, kust[0].Resources)
	}
	return objs
}

func readObjects(t *testing.T, path string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(false)
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, o)
	}
	return out
}

// The Deployment runs two replicas (one streams, one stands by) with the
// ConfigMap's configuration, the secrets from the Secret, probes on
// /healthz and /readyz at the port the configuration listens on, and the
// benchmark's resources; the configuration passes pg2kafka's validation.
func TestKubernetesManifests(t *testing.T) {
	objs := readK8s(t)
	dep, cm, svc := objs["Deployment"], objs["ConfigMap"], objs["Service"]
	if dep.Kind == "" || cm.Kind == "" || svc.Kind == "" {
		t.Fatalf("want a Deployment, a ConfigMap and a Service: %v", objs)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %s, want 2 (one active, one standing by)", replicasText(dep.Spec.Replicas))
	}
	match, _ := dep.Spec.Selector["matchLabels"].(map[string]any)
	if len(match) == 0 || len(svc.Spec.Selector) == 0 {
		t.Errorf("selectors: Deployment %v, Service %v", dep.Spec.Selector, svc.Spec.Selector)
	}
	for what, sel := range map[string]map[string]any{"Deployment": match, "Service": svc.Spec.Selector} {
		for k, v := range sel {
			if dep.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("the %s's selector %s=%v does not match the pod template's labels", what, k, v)
			}
		}
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The configuration: mounted from the ConfigMap where --config says.
	text, ok := cm.Data["pg2kafka.yaml"]
	if !ok {
		t.Fatalf("the ConfigMap has no pg2kafka.yaml: %v", cm.Data)
	}
	mounted := ""
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name {
				mounted = m.MountPath
			}
		}
	}
	if want := filepath.Join(mounted, "pg2kafka.yaml"); mounted == "" || !strings.Contains(strings.Join(c.Args, " "), "--config "+want) {
		t.Errorf("args %q do not name the ConfigMap's file (mounted at %q)", c.Args, mounted)
	}

	// Secrets come from the Secret, and fill every ${VAR} the
	// configuration needs; then it validates.
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "" {
			if strings.Contains(strings.ToUpper(e.Name), "PASSWORD") {
				t.Errorf("env %s is not from a Secret", e.Name)
			}
			env[e.Name] = e.Value
			continue
		}
		env[e.Name] = "secret-" + strings.ToLower(e.Name)
	}
	for _, v := range []string{"PGPASSWORD", "KAFKA_SASL_PASSWORD"} {
		if _, ok := env[v]; !ok {
			t.Errorf("no env %s from the Secret", v)
		}
	}
	for _, ref := range regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`).FindAllStringSubmatch(text, -1) {
		if _, ok := env[ref[1]]; !ok {
			t.Errorf("the configuration references ${%s}, which the Deployment does not set", ref[1])
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Parse([]byte(text), "deploy/k8s/configmap.yaml")
	if err != nil {
		t.Fatalf("the ConfigMap's configuration does not validate:\n%v", err)
	}
	if cfg.Source.EffectivePassword() != "secret-pgpassword" || cfg.Kafka.SASL.Password != "secret-kafka_sasl_password" {
		t.Errorf("the secrets do not reach the configuration: %+v %+v", cfg.Source.Credentials, cfg.Kafka.SASL)
	}

	// Ports: the container port is http.listen's, the probes and the
	// Service use it.
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil || port == "" {
		t.Fatalf("http.listen %q: the probes need a port", cfg.HTTP.Listen)
	}
	if host, _, _ := net.SplitHostPort(cfg.HTTP.Listen); host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("http.listen %q: the kubelet cannot reach a pod listening on %s only", cfg.HTTP.Listen, host)
	}
	portName := ""
	for _, p := range c.Ports {
		if itoa(p.ContainerPort) == port {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Fatalf("no container port %s (http.listen): %+v", port, c.Ports)
	}
	for _, pr := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no %s probe over HTTP", pr.name)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path || (pr.probe.HTTPGet.Port != portName && itoaAny(pr.probe.HTTPGet.Port) != port) {
			t.Errorf("%s probe GET %v:%v, want %s on port %s (%s)", pr.name, pr.probe.HTTPGet.Port, pr.probe.HTTPGet.Path, pr.path, port, portName)
		}
	}
	if len(svc.Spec.Ports) != 1 || (svc.Spec.Ports[0].TargetPort != portName && itoaAny(svc.Spec.Ports[0].TargetPort) != port) {
		t.Errorf("the Service targets %+v, want the metrics port %s", svc.Spec.Ports, portName)
	}

	// Resources from the benchmark (peak RSS ~40-125 MiB).
	want := map[string]string{"requests.cpu": "250m", "requests.memory": "128Mi", "limits.cpu": "1", "limits.memory": "256Mi"}
	got := map[string]string{
		"requests.cpu": c.Resources.Requests["cpu"], "requests.memory": c.Resources.Requests["memory"],
		"limits.cpu": c.Resources.Limits["cpu"], "limits.memory": c.Resources.Limits["memory"],
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("resources %s = %q, want %q", k, got[k], v)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// itoaAny is a port given as a YAML number, or "".
func itoaAny(v any) string {
	if n, ok := v.(int); ok {
		return itoa(n)
	}
	return ""
}

func replicasText(n *int) string {
	if n == nil {
		return "unset"
	}
	return itoa(*n)
}
