package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersionNamesGoAndLibraries(t *testing.T) {
	var out bytes.Buffer
	if err := printVersion(&out, readVersion(), true); err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if v.Go != runtime.Version() {
		t.Errorf("go %q, want %q", v.Go, runtime.Version())
	}
	for _, m := range []string{"github.com/valyala/fasthttp", "github.com/tetratelabs/wazero", "github.com/open-policy-agent/opa"} {
		if !strings.HasPrefix(v.Libraries[m], "v") {
			t.Errorf("library %s: version %q", m, v.Libraries[m])
		}
	}
	out.Reset()
	if err := printVersion(&out, v, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "sluice ") || !strings.Contains(out.String(), "github.com/valyala/fasthttp v") {
		t.Errorf("text form: %q", out.String())
	}
}
