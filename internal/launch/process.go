package launch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Process is a harness server its script started: `script start DIR PORT
// PORT2` execs the server (so the PID is the server's) in DIR, a temporary
// directory of its own, listening on two free loopback ports.
type Process struct {
	// Dir holds the server's files and its script's output, stdout.log.
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartProcess runs `script start DIR PORT PORT2` with env in a new
// temporary directory named after name, on two free ports it returns. The
// server goes when the test binary dies, however it dies (Pdeathsig).
func StartProcess(script, name string, env []string) (*Process, [2]int, error) {
	var ports [2]int
	dir, err := os.MkdirTemp("", "pg2kafka-"+name+"-")
	if err != nil {
		return nil, ports, fmt.Errorf("creating the %s directory: %w", name, err)
	}
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, ports, err
		}
	}
	p, err := StartIn(dir, env, script, "start", dir, strconv.Itoa(ports[0]), strconv.Itoa(ports[1]))
	return p, ports, err
}

// StartIn runs script with args and env as a server whose files are in
// dir, an existing directory; its output is appended to dir/stdout.log. A
// server killed (Kill) is started again on its files so.
func StartIn(dir string, env []string, script string, args ...string) (*Process, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the output file in %s: %w", dir, err)
	}
	defer out.Close()
	cmd := exec.Command(script, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = env
	// SIGKILL, as SIGTERM would wait on a paused server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", script, err)
	}
	p := &Process{Dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// PID is the server's process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// WaitReady calls ping every interval until it succeeds. When the server
// exits first, or timeout passes since started, it stops the server and
// returns an error naming what, with logs (the server's log files).
func (p *Process) WaitReady(what string, started time.Time, timeout, interval time.Duration, ping func() error, logs func() string) error {
	for {
		err := ping()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			text := logs()
			p.Stop()
			return fmt.Errorf("%s exited before answering (%s)\n%s", what, p.cmd.ProcessState, text)
		default:
		}
		if time.Since(started) > timeout {
			text := logs()
			p.Stop()
			return fmt.Errorf("%s did not answer within %s: %w\n%s", what, time.Since(started).Round(time.Second), err, text)
		}
		time.Sleep(interval)
	}
}

// Stop kills the server (Kill) and removes its directory.
func (p *Process) Stop() {
	p.Kill()
	_ = os.RemoveAll(p.Dir)
}

// Kill kills the server and its process group (a paused one too) with
// SIGKILL and waits for it; its files stay.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
	}
}

// Tail returns the last 8,000 bytes of each of the named files of Dir that
// is not empty, for an error.
func (p *Process) Tail(names ...string) string {
	var s []byte
	for _, name := range names {
		text, err := os.ReadFile(filepath.Join(p.Dir, name))
		if err != nil || len(text) == 0 {
			continue
		}
		if len(text) > 8000 {
			text = text[len(text)-8000:]
		}
		s = fmt.Appendf(s, "--- %s\n%s\n", name, text)
	}
	return string(s)
}
