package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestConfigSizeLimit: a config over MaxBytes is refused with its size and
// the limit named; one just under it parses.
func TestConfigSizeLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("upstreams:\n  app: {endpoints: [http://127.0.0.1:8080]}\nroutes:\n")
	for i := 0; b.Len() <= MaxBytes; i++ {
		fmt.Fprintf(&b, "  - {name: r%06d, match: {path: /r%06d}, upstream: app}\n", i, i)
	}
	big := b.String()
	_, err := Parse([]byte(big), "big.yaml")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes, over the limit of %d", len(big), MaxBytes)) {
		t.Fatalf("a %d-byte config: %v", len(big), err)
	}
	// Cut back to whole lines under the limit: it parses.
	small := big[:strings.LastIndex(big[:MaxBytes], "\n")+1]
	if _, err := Parse([]byte(small), "small.yaml"); err != nil {
		t.Fatalf("a %d-byte config: %v", len(small), err)
	}
}
