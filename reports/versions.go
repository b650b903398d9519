package reports

import (
	"runtime"
	"runtime/debug"
)

// BuildVersions names the Go toolchain, franz-go and kfake this binary was
// built with, and the project's commit (which the caller knows best).
func BuildVersions(commit string) Versions {
	v := Versions{Go: runtime.Version(), FranzGo: "unknown", Kfake: "unknown", Commit: commit}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		switch d.Path {
		case "github.com/twmb/franz-go":
			v.FranzGo = d.Version
		case "github.com/twmb/franz-go/pkg/kfake":
			v.Kfake = d.Version
		}
	}
	return v
}
