//go:build !wasip1

package sluice

import "embed"

// Source holds this SDK's source, for the sluice binary: `sluice filter
// new` writes it beside a new filter, so that a user with only the binary
// and a Go toolchain needs no Sluice checkout and no module download. It is
// in a native-only file, so filters (built for wasip1) never carry it.
// See RATIONALE.md, "SDKs ship inside the binary".
//
//go:embed go.mod README.md *.go internal sluicetest c/sluice.h assemblyscript/index.ts assemblyscript/asconfig.json assemblyscript/README.md
var Source embed.FS
