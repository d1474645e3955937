package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// commit is the VCS revision the binary was built from, set by `make build`
// (-ldflags "-X main.commit=..."); empty, the build's own VCS stamp is used.
var commit string

// versionText is what `pg2kafka --version` prints: version, commit, Go.
func versionText() string {
	rev, modified := commit, false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	} else if modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("pg2kafka %s\ncommit %s\n%s %s/%s\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
