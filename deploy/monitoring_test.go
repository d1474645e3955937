package deploy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/metrics"
)

// dashboardPanel is the part of a Grafana panel these tests read.
type dashboardPanel struct {
	ID         int              `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource *json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboard struct {
	UID        string           `json:"uid"`
	Title      string           `json:"title"`
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name    string          `json:"name"`
			Type    string          `json:"type"`
			Query   json.RawMessage `json:"query"`
			Current struct {
				Value any `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

// readDashboard parses grafana/pg2kafka.json.
func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("grafana/pg2kafka.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("grafana/pg2kafka.json: %v", err)
	}
	return d
}

// queries returns every PromQL query of the dashboard: its panels' (rows'
// panels included) and its query variables'.
func (d dashboard) queries(t *testing.T) []string {
	var out []string
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if err := json.Unmarshal(v.Query, &s); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
			q.Query = s
		}
		out = append(out, q.Query)
	}
	return out
}

var (
	// metricName is a metric name in PromQL (pg2kafka's all start so).
	metricName = regexp.MustCompile(`\bpg2kafka_[a-zA-Z0-9_]+`)
	// selector is any identifier followed by a label matcher: a metric.
	selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{`)
)

// dashboardMetrics returns the metric names the dashboard's queries use.
func dashboardMetrics(t *testing.T, queries []string) []string {
	seen := map[string]bool{}
	for _, q := range queries {
		if !balanced(q) {
			t.Errorf("query %q: unbalanced brackets", q)
		}
		for _, m := range metricName.FindAllString(q, -1) {
			seen[m] = true
		}
		for _, m := range selector.FindAllStringSubmatch(q, -1) {
			if !strings.HasPrefix(m[1], "pg2kafka_") && m[1] != "by" && m[1] != "on" {
				t.Errorf("query %q selects %s, not a pg2kafka metric", q, m[1])
			}
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// exportedMetrics starts pg2kafka's metrics server in process, feeds it
// one of everything (so every labelled series exists) and returns the
// sample names its /metrics serves.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	m.Record("public", "orders", event.OpCreate, 100)
	m.Record("public", "orders", event.OpUpdate, 100)
	m.Record("public", "orders", event.OpDelete, 50)
	m.Committed(3, 20*time.Millisecond, 0x1000, time.Now().Add(-time.Second))
	m.Backfill("public", "orders", 500, 1000, false)
	m.Recovering("postgres")
	m.Ready()
	if err := m.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// Every metric the dashboard queries is one pg2kafka's /metrics serves,
// and the dashboard shows what an operator needs.
func TestDashboardMetricsExist(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q", d.UID, d.Title)
	}
	queries := d.queries(t)
	used := dashboardMetrics(t, queries)
	exported := exportedMetrics(t)
	for _, m := range used {
		if !exported[m] {
			t.Errorf("the dashboard queries %s, which pg2kafka's /metrics does not serve", m)
		}
	}
	for _, want := range []string{
		"pg2kafka_replication_lag_bytes", "pg2kafka_replication_lag_seconds", "pg2kafka_slot_retained_wal_bytes",
		"pg2kafka_records_total", "pg2kafka_record_bytes_total", "pg2kafka_kafka_commit_duration_seconds_bucket",
		"pg2kafka_backfill_rows", "pg2kafka_backfill_rows_estimated",
	} {
		if !slices.Contains(used, want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	t.Logf("%d queries over %d metrics: %s", len(queries), len(used), strings.Join(used, ", "))

	// Panel ids are unique; every panel queries the dashboard's data
	// source variable, which defaults to the provisioned data source.
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && (p.Datasource == nil || !strings.Contains(string(*p.Datasource), "${datasource}")) {
				t.Errorf("panel %q does not use the ${datasource} variable", p.Title)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
}

// composeService is the part of a docker-compose.yml service these tests
// read.
type composeService struct {
	Image     string         `yaml:"image"`
	Profiles  []string       `yaml:"profiles"`
	Ports     []string       `yaml:"ports"`
	Volumes   []string       `yaml:"volumes"`
	DependsOn map[string]any `yaml:"depends_on"`
}

// The compose `monitoring` profile runs Prometheus scraping pg2kafka's
// metrics port and Grafana provisioned with a data source for that
// Prometheus and a provider loading the dashboard where it is mounted.
func TestComposeMonitoringProfile(t *testing.T) {
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	prom, graf := f.Services["prometheus"], f.Services["grafana"]
	for name, s := range map[string]composeService{"prometheus": prom, "grafana": graf} {
		if !slices.Equal(s.Profiles, []string{"monitoring"}) {
			t.Errorf("service %s: profiles %v, want [monitoring]", name, s.Profiles)
		}
		if _, tag, _ := strings.Cut(s.Image, ":"); !regexp.MustCompile(`^v?\d+\.\d+\.\d+$`).MatchString(tag) {
			t.Errorf("service %s: image %q is not pinned to a release", name, s.Image)
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
	}
	for name, s := range f.Services {
		if name != "prometheus" && name != "grafana" && len(s.Profiles) > 0 {
			t.Errorf("service %s has profiles %v: the default stack must not need one", name, s.Profiles)
		}
	}
	mount := func(s composeService, target string) string {
		for _, v := range s.Volumes {
			if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == target {
				return parts[0]
			}
		}
		return ""
	}

	// Prometheus scrapes pg2kafka at its http.listen port.
	promCfg := mount(prom, "/etc/prometheus/prometheus.yml")
	if promCfg == "" {
		t.Fatalf("prometheus mounts no /etc/prometheus/prometheus.yml: %v", prom.Volumes)
	}
	var pc struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join("..", promCfg), &pc)
	p2k := readYAMLMap(t, "pg2kafka.yaml")
	listen, _ := p2k["http"].(map[string]any)["listen"].(string)
	_, port, _ := net.SplitHostPort(composeDefault(listen))
	want := "pg2kafka:" + port
	found := false
	for _, sc := range pc.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			found = found || slices.Contains(st.Targets, want) && (sc.MetricsPath == "" || sc.MetricsPath == "/metrics")
		}
	}
	if port == "" || !found {
		t.Errorf("%s does not scrape %s/metrics (http.listen %q in deploy/pg2kafka.yaml)", promCfg, want, listen)
	}
	if _, ok := prom.DependsOn["pg2kafka"]; !ok {
		t.Errorf("prometheus does not depend on pg2kafka")
	}

	// Grafana: the provisioning directory, its data source and dashboard
	// provider.
	prov := mount(graf, "/etc/grafana/provisioning")
	dashFile := ""
	for _, v := range graf.Volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[0] == "./deploy/grafana/pg2kafka.json" {
			dashFile = parts[1]
		}
	}
	if prov == "" || dashFile == "" {
		t.Fatalf("grafana mounts %v: want the provisioning directory and ./deploy/grafana/pg2kafka.json", graf.Volumes)
	}
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("..", prov, "datasources", "prometheus.yaml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("grafana data sources %+v: want the prometheus service", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join("..", prov, "dashboards", "pg2kafka.yaml"), &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options.Path != path.Dir(dashFile) {
		t.Errorf("grafana dashboard providers %+v: want a file provider of %s", dp.Providers, path.Dir(dashFile))
	}
	d := readDashboard(t)
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && len(ds.Datasources) == 1 && v.Current.Value != ds.Datasources[0].UID {
			t.Errorf("the dashboard's data source variable defaults to %v, not the provisioned %q", v.Current.Value, ds.Datasources[0].UID)
		}
	}
}

// composeDefault applies ${VAR:-default} as compose and pg2kafka do with
// VAR unset.
func composeDefault(s string) string {
	return os.Expand(s, func(name string) string {
		_, def, _ := strings.Cut(name, ":-")
		return def
	})
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func readYAMLMap(t *testing.T, file string) map[string]any {
	t.Helper()
	m := map[string]any{}
	readYAML(t, file, &m)
	return m
}

// balanced is whether q's (), [] and {} pair up outside strings.
func balanced(q string) bool {
	var stack []rune
	inString := false
	for _, c := range q {
		switch {
		case c == '"':
			inString = !inString
		case inString:
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}
