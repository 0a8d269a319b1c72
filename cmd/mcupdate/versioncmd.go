package main

import (
	"context"
	"runtime/debug"
)

const versionHelp = "Print mcupdate's version."

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func runVersionCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("version")
	if pos, err := a.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("version takes no arguments")
	}
	a.ui.Printf("mcupdate %s", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}
