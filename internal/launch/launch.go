// Package launch holds what the test harness's helper servers share (the
// real Kafka broker of internal/kafkatest, the schema registry of
// internal/registrytest): running their fetch script into the download
// cache, free loopback ports, and retrying a start that lost its port.
package launch

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// MissingTools is the error of a machine without a tool a server needs
// (Java, Maven, bash): the caller may skip, or fall back, saying why.
type MissingTools struct{ Msg string }

func (e *MissingTools) Error() string { return e.Msg }

// Fetch runs `script fetch` with env, which downloads what (a release, by
// name) into the cache outside the repository. The script's exit status 3
// means a tool is missing (*MissingTools, with its message).
func Fetch(script string, env []string, what string) error {
	fetch := exec.Command(script, "fetch")
	fetch.Env = env
	var stderr bytes.Buffer
	fetch.Stderr = &stderr
	if _, err := fetch.Output(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 {
			return &MissingTools{Msg: msg}
		}
		return fmt.Errorf("fetching %s with %s: %v\n%s", what, script, err, msg)
	}
	return nil
}

// Retry calls start up to three times: a port taken between choosing it
// (FreePort) and the server binding it is worth another try.
func Retry[T any](start func() (T, error)) (T, error) {
	var v T
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if v, err = start(); err == nil {
			return v, nil
		}
	}
	return v, err
}

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Script returns the path of a harness script, internal/<pkg>/<name>:
// found from this file's directory, or, in a binary built with -trimpath,
// by looking upwards from the working directory.
func Script(pkg, name string) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(filepath.Dir(file)), pkg, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, _ := os.Getwd()
	for dir != "" && dir != "/" {
		p := filepath.Join(dir, "internal", pkg, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		dir = filepath.Dir(dir)
	}
	return "", fmt.Errorf("%s not found under internal/%s of the repository nor of a parent of the working directory", name, pkg)
}
