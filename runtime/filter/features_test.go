package filter

import (
	"context"
	"testing"
)

// enable_features always reports FeatureHoldsResponseHead, which the SDK
// reads to know it need not ask for buffer_response; asked for, it is not
// enabled (it is what the host does, not a request option), so it never
// reaches Features, which decides buffering.
func TestEnableFeaturesReportsHoldsResponseHead(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m := loadWAT(t, rt, "noop", ModuleOptions{})
	i, err := m.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(i)
	for _, p := range []phase{phaseIdle, phaseRequest} {
		i.phase = p
		stack := []uint64{uint64(FeatureHoldsResponseHead | FeatureTrailers)}
		i.enableFeatures(stack)
		if got := Features(stack[0]); got != FeatureHoldsResponseHead|FeatureTrailers {
			t.Errorf("phase %d: enable_features returned %b, want trailers and holds_response_head", p, got)
		}
		if i.Features().Has(FeatureHoldsResponseHead) {
			t.Errorf("phase %d: Features() = %b holds the capability bit", p, i.Features())
		}
	}
	i.phase = phaseIdle
}
