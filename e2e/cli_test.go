package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the built pg2kafka with args and no configuration in its
// environment.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "PG2KAFKA_CONFIG=")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("pg2kafka %s: %v", strings.Join(args, " "), err)
	}
	return so.String(), se.String(), code
}

// The binary's command-line conventions: help on stdout with exit 0, each
// command's help with its own flags, --version, and exit 2 for usage
// errors as the README says. Needs neither PostgreSQL nor Kafka.
func TestCLIConventions(t *testing.T) {
	if out, errOut, code := runBinary(t, "--help"); code != 0 || errOut != "" || !strings.Contains(out, "pg2kafka run") {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code := runBinary(t, "--version")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "pg2kafka ") || !strings.Contains(out, "commit ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runBinary(t, "setup", "--help")
	if code != 0 || errOut != "" || !strings.Contains(out, "-admin-url") || strings.Contains(out, "  -format") || strings.Contains(out, "  -table") {
		t.Errorf("setup --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := runBinary(t, "state", "--help"); code != 0 || !strings.Contains(out, "state reset") {
		t.Errorf("state --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// setup --apply without --admin-url is a usage error: exit 2, even with
	// a valid configuration file.
	cfg := filepath.Join(t.TempDir(), "pg2kafka.yaml")
	if err := os.WriteFile(cfg, []byte("source: {address: \"localhost:5432\", user: u, password: p, database: d}\nkafka: {brokers: [\"localhost:9092\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runBinary(t, "setup", "--apply", "--config", cfg); code != 2 || !strings.Contains(errOut, "--admin-url") {
		t.Errorf("setup --apply without --admin-url: exit %d, stderr %q; want 2", code, errOut)
	}
	if _, _, code := runBinary(t, "--bogus"); code != 2 {
		t.Errorf("--bogus: exit %d, want 2", code)
	}
}

// check as a role that does not exist says so (PostgreSQL does not tell it
// from a wrong password) and points to pg2kafka setup.
func TestCheckMissingRole(t *testing.T) {
	e := newEnv(t)
	bad := e.asRole("no_such_role_pg2kafka")
	out, errOut, code := bad.tool("check")
	if code != 1 {
		t.Fatalf("check exited %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"FAIL", "no_such_role_pg2kafka", "does not exist or its password is wrong", "pg2kafka setup"} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("check output lacks %q:\n%s%s", want, out, errOut)
		}
	}
}
