package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cli runs the command line and returns its exit status, stdout and stderr.
func cli(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := runWith(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpOnStdoutExitsZero(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, errOut := cli(arg)
		if code != exitOK || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
	}
	// No command at all is a usage error: usage on stderr, exit 2.
	if code, out, errOut := cli(); code != exitConfig || out != "" || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version", "-version"} {
		code, out, errOut := cli(arg)
		if code != exitOK || errOut != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || lines[0] != "pg2kafka "+version ||
			!strings.HasPrefix(lines[1], "commit ") || !strings.HasPrefix(lines[2], "go1.") {
			t.Errorf("%s printed %q", arg, out)
		}
	}
}

func TestCommandHelpListsOnlyItsFlags(t *testing.T) {
	all := []string{"-apply", "-admin-url", "-per-table-grants", "-format", "-force", "-yes", "-table"}
	for _, tc := range []struct {
		args []string
		own  []string
	}{
		{[]string{"run", "--help"}, nil},
		{[]string{"check", "-h"}, nil},
		{[]string{"setup", "--help"}, []string{"-apply", "-admin-url", "-per-table-grants"}},
		{[]string{"discover", "--help"}, []string{"-format"}},
		{[]string{"state", "show", "--help"}, nil},
		{[]string{"state", "import", "--help"}, []string{"-force", "-yes"}},
		{[]string{"state", "reset", "--help"}, []string{"-table", "-yes"}},
		{[]string{"state", "reset", "--config", "x.yaml", "-h"}, []string{"-table", "-yes"}},
		{[]string{"help", "discover"}, []string{"-format"}},
		{[]string{"healthcheck", "--help"}, nil},
	} {
		code, out, errOut := cli(tc.args...)
		if code != exitOK || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
			continue
		}
		if !strings.Contains(out, "-config") {
			t.Errorf("%v: no --config in %q", tc.args, out)
		}
		for _, f := range all {
			has := strings.Contains(out, "  "+f+" ") || strings.Contains(out, "  "+f+"\n")
			if want := containsStr(tc.own, f); has != want {
				t.Errorf("%v: flag %s listed %v, want %v:\n%s", tc.args, f, has, want, out)
			}
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestStateHelp(t *testing.T) {
	for _, args := range [][]string{{"state", "--help"}, {"state", "-h"}, {"state", "help"}, {"help", "state"}} {
		code, out, errOut := cli(args...)
		if code != exitOK || errOut != "" || !strings.Contains(out, "pg2kafka state reset") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, errOut := cli("state"); code != exitConfig || !strings.Contains(errOut, "show") {
		t.Errorf("state alone: exit %d, stderr %q", code, errOut)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"setup", "--apply"}, "--apply needs --admin-url"},
		{[]string{"setup", "--apply", "--config", "/nonexistent.yaml"}, "--apply needs --admin-url"},
		{[]string{"run", "--format", "yaml"}, "does not apply"},
		{[]string{"run", "--bogus"}, "not defined"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"state", "frob"}, "unknown command"},
		{[]string{"state", "import"}, "takes 1 argument"},
		{[]string{"discover", "--format", "xml"}, "json or yaml"},
	} {
		code, out, errOut := cli(tc.args...)
		if code != exitConfig || out != "" || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.msg)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	if code, out, errOut := cli("healthcheck", "--url", srv.URL+"/healthz"); code != exitOK || !strings.Contains(out, "ok") {
		t.Errorf("healthy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	status = http.StatusServiceUnavailable
	if code, _, errOut := cli("healthcheck", "--url", srv.URL+"/healthz"); code != exitFailure || !strings.Contains(errOut, "503") {
		t.Errorf("unhealthy: exit %d, stderr %q", code, errOut)
	}
	srv.Close()
	if code, _, _ := cli("healthcheck", "--url", srv.URL+"/healthz"); code != exitFailure {
		t.Errorf("nothing listening: exit %d, want 1", code)
	}

	for listen, want := range map[string]string{
		":9187":          "http://127.0.0.1:9187/healthz",
		"0.0.0.0:9187":   "http://127.0.0.1:9187/healthz",
		"[::]:9187":      "http://127.0.0.1:9187/healthz",
		"127.0.0.1:9000": "http://127.0.0.1:9000/healthz",
		"[::1]:9000":     "http://[::1]:9000/healthz",
	} {
		if got, err := healthURL(listen); err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	if _, err := healthURL(""); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("healthURL(\"\") = %v, want an error naming http.listen", err)
	}
}
