// Package patches holds the patches mcupdate ships: one INI file per patch,
// embedded in the binary. The engine that parses and applies them is
// cmd/internal/patch; README.md here documents the format.
package patches

import "embed"

// FS holds every shipped *.ini file at its root.
//
//go:embed *.ini
var FS embed.FS
