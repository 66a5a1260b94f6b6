package platform

import (
	"runtime/debug"
	"sync"
)

// Build is what the binary knows of its own build.
type Build struct {
	Version   string // the module version: a tag, a pseudo-version, or "(devel)"
	Revision  string // the VCS revision, with "-dirty" when the tree had changes; "" when unknown
	GoVersion string
}

// String is "VERSION (REVISION, GOVERSION)".
func (b Build) String() string {
	rev := b.Revision
	if rev == "" {
		rev = "unknown revision"
	}
	return b.Version + " (" + rev + ", " + b.GoVersion + ")"
}

// BuildInfo reads the binary's build information once.
var BuildInfo = sync.OnceValue(func() Build {
	b := Build{Version: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Revision != "" {
		b.Revision += "-dirty"
	}
	return b
})
