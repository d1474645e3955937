package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Both scripts mention every command, state subcommand and flag.
func TestCompletionMentionsEveryCommand(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		code, script, errOut := cli("completion", shell)
		if code != exitOK || errOut != "" {
			t.Fatalf("completion %s: exit %d, %s", shell, code, errOut)
		}
		words := []string{"completion", "version", "help"}
		for name, flags := range flagsOf {
			words = append(words, strings.Fields(name)...)
			for _, f := range flags {
				words = append(words, "--"+f)
			}
		}
		for _, w := range words {
			if !strings.Contains(script, w) {
				t.Errorf("the %s script does not mention %q", shell, w)
			}
		}
	}
	if code, _, errOut := cli("completion", "fish"); code != exitConfig || !strings.Contains(errOut, "bash or zsh") {
		t.Errorf("completion fish: exit %d, %s", code, errOut)
	}
	if code, out, _ := cli("completion", "--help"); code != exitOK || !strings.Contains(out, "source <(pg2kafka completion bash)") {
		t.Errorf("completion --help: exit %d, %s", code, out)
	}
}

// The bash script completes commands, subcommands, flags and values.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, script, _ := cli("completion", "bash")
	path := filepath.Join(t.TempDir(), "pg2kafka.bash")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		words string
		want  string
	}{
		{"pg2kafka st", "state status"},
		{"pg2kafka state r", "reset"},
		{"pg2kafka status --", "--help --config --interval --json --metrics-url --watch"},
		{"pg2kafka state reset --t", "--table"},
		{"pg2kafka discover --format y", "yaml"},
		{"pg2kafka completion z", "zsh"},
	} {
		words := strings.Fields(tt.words)
		if strings.HasSuffix(tt.words, " ") {
			words = append(words, "")
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := "source " + path + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			string(rune('0'+len(words)-1)) + "; _pg2kafka; echo \"${COMPREPLY[*]}\""
		out, err := exec.Command(bash, "-c", prog).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("%q: got %q (%v), want %q", tt.words, out, err, tt.want)
		}
	}
}

// The zsh script parses and registers its completion function.
func TestZshCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("no zsh")
	}
	_, script, _ := cli("completion", "zsh")
	path := filepath.Join(t.TempDir(), "_pg2kafka")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	out, err := exec.Command(zsh, "-f", "-c", "autoload -U compinit && compinit -u -d "+filepath.Join(t.TempDir(), "zcompdump")+
		" && source "+path+" && print -r -- ${_comps[pg2kafka]}").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_pg2kafka" {
		t.Errorf("sourcing the zsh script: %q, %v", out, err)
	}
}
