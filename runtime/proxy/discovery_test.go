package proxy

import (
	"sync"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestSetDiscoveredAddsAndRemovesInstancesUnderLoad(t *testing.T) {
	a := startUpstream(t, "a", nil)
	b := startUpstream(t, "b", nil)
	c := startUpstream(t, "c", nil)
	p, _ := newTestPool(t, upstreamCfg("", a.URL))
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)

	// Requests run all along while instances come and go (-race checks
	// the swap).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := do(t, client, "GET", url+"/", nil, nil); r.status != 200 {
					t.Errorf("status %d during a change", r.status)
					return
				}
			}
		}()
	}
	p.SetDiscovered([]string{b.URL, c.URL, a.URL /* configured: not doubled */, "ftp://bad"})
	if n := len(p.Endpoints()); n != 3 {
		t.Errorf("%d endpoints after discovering b and c, want 3", n)
	}
	testkit.WaitFor(t, 5e9, "traffic on every discovered instance", func() bool { return b.hits.Load() > 0 && c.hits.Load() > 0 })
	p.SetDiscovered([]string{c.URL})
	bHits := b.hits.Load()
	testkit.WaitFor(t, 5e9, "more traffic on c", func() bool { return c.hits.Load() > 10 })
	close(stop)
	wg.Wait()
	// At most the requests in flight at the swap reach b afterwards.
	if late := b.hits.Load() - bHits; late > 4 {
		t.Errorf("b got %d requests after it was removed", late)
	}
	p.SetDiscovered(nil)
	if eps := p.Endpoints(); len(eps) != 1 || eps[0].URL != a.URL {
		t.Errorf("after all discovered instances left: %+v", eps)
	}
}
