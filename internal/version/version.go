// Package version holds the Shoal version, set at build time with
// -ldflags "-X github.com/shoal/shoal/internal/version.Version=...".
package version

import "runtime/debug"

// Version is the release this binary was built as.
var Version = "0.1.0-dev"

// Build returns the VCS revision (short) and time the Go toolchain recorded in this binary,
// or empty strings when it recorded none.
func Build() (commit, when string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
			if len(commit) > 7 {
				commit = commit[:7]
			}
		case "vcs.time":
			when = s.Value
		}
	}
	return commit, when
}
