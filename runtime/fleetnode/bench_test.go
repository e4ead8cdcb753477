package fleetnode_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// startFleet runs a publisher and n edge nodes on one embedded NATS, all in
// this process, every node on the first revision. Nodes report status at
// the production interval, as a real fleet does.
func startFleet(b *testing.B, natsURL string, pub *fleettest.Publisher, n int) ([]*fleettest.Edge, string) {
	b.Helper()
	edges := make([]*fleettest.Edge, n)
	for i := range edges {
		edges[i] = fleettest.StartEdge(b, natsURL, fleettest.EdgeSpec{ID: fmt.Sprintf("edge-%03d", i), Trust: pub.Identity().Public, StatusInterval: fleet.StatusInterval})
	}
	up := fleettest.Upstream(b, "up")
	rev := pub.MustApply(b, swapConfig(up, 0), "")
	testkit.WaitFor(b, 60*time.Second+time.Duration(n)*100*time.Millisecond, "every node on the first revision", allOn(edges, rev))
	return edges, up
}

// allOn reports whether every node serves rev.
func allOn(edges []*fleettest.Edge, rev int64) func() bool {
	return func() bool {
		for _, e := range edges {
			if st := e.Sub.Status(); st.Revision != rev || st.State != fleet.StateReady {
				return false
			}
		}
		return true
	}
}

// BenchmarkFleetConvergence measures, per apply, the time from the
// publisher's apply returning to every node serving the new revision (its
// status says ready on it, which it sets once the new snapshot is swapped
// in), and from the apply call (adding the publisher's validation and
// publishing). Reported: p50 and p99 of b.N applies (at 30 applies the
// p99 is the slowest one); the CPU the apply call's own thread used
// (validation build, sealing, writing: the publisher's part, which cannot
// be told apart from the nodes' by process CPU when all run in this
// process); the whole process's CPU from the call to the last node
// serving, per node (nodes, NATS server and publisher: what one apply
// costs the fleet, spread over its nodes); and the bytes the NATS server received and sent per apply
// (its varz), which includes the status reports of every node meanwhile.
//
//	go test -run '^$' -bench FleetConvergence -benchtime=30x ./runtime/fleetnode
//	FLEET_NODES=500,1000 go test -run '^$' -bench FleetConvergence -benchtime=10x -timeout 1h ./runtime/fleetnode
func BenchmarkFleetConvergence(b *testing.B) {
	sizes := fleetSizes(b, 10, 50, 100)
	// The testing package calls each sub-benchmark once with b.N = 1
	// before the measured run: the fleet is started once per size, under
	// the parent, not twice.
	type testFleet struct {
		ns    *server.Server
		pub   *fleettest.Publisher
		edges []*fleettest.Edge
		up    string
		// applied numbers the configs, each unlike the one before
		applied int
	}
	fleets := map[int]*testFleet{}
	parent := b
	for _, n := range sizes {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			f := fleets[n]
			if f == nil {
				f = &testFleet{ns: fleettest.StartNATSServer(parent)}
				f.pub = fleettest.StartPublisher(parent, f.ns.ClientURL())
				f.edges, f.up = startFleet(parent, f.ns.ClientURL(), f.pub, n)
				fleets[n] = f
			}
			ns, pub, edges, up := f.ns, f.pub, f.edges, f.up
			// fromReturn is what the operator sees after `apply` answers;
			// fromCall adds the publisher's validation and publishing, and
			// bounds it: nodes can finish while apply is still returning.
			fromReturn := make([]time.Duration, 0, b.N)
			fromCall := make([]time.Duration, 0, b.N)
			var applyCPU, fleetCPU time.Duration
			in0, out0 := natsBytes(b, ns)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				f.applied++
				doc, _, err := artifacts.FromFile(fleettest.WriteConfig(b, b.TempDir(), swapConfig(up, f.applied)))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := processCPU()
				called := time.Now()
				rec, cpu, err := applyOnThisThread(b, pub, doc)
				applyCPU += cpu
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				// A tight poll: its step bounds the resolution.
				for done := allOn(edges, rec.Revision); !done(); {
					if time.Since(start) > 30*time.Second {
						b.Fatalf("revision %d not on every node after 30 s", rec.Revision)
					}
					time.Sleep(200 * time.Microsecond)
				}
				fromReturn = append(fromReturn, time.Since(start))
				fromCall = append(fromCall, time.Since(called))
				fleetCPU += processCPU() - cpu0
			}
			b.StopTimer()
			in1, out1 := natsBytes(b, ns)
			for _, times := range [][]time.Duration{fromReturn, fromCall} {
				slices.Sort(times)
			}
			b.Logf("from apply returning, sorted: %v", fromReturn)
			b.ReportMetric(ms(fromReturn[len(fromReturn)/2]), "p50-ms")
			b.ReportMetric(ms(fromReturn[len(fromReturn)*99/100]), "p99-ms")
			b.ReportMetric(ms(fromCall[len(fromCall)/2]), "p50-from-call-ms")
			b.ReportMetric(ms(fromCall[len(fromCall)*99/100]), "p99-from-call-ms")
			b.ReportMetric(ms(applyCPU)/float64(b.N), "apply-cpu-ms/op")
			b.ReportMetric(float64(fleetCPU)/float64(b.N)/float64(n)/1e3, "fleet-cpu-µs/node/op")
			b.ReportMetric(float64(in1-in0)/float64(b.N)/1024, "nats-in-KiB/op")
			b.ReportMetric(float64(out1-out0)/float64(b.N)/1024, "nats-out-KiB/op")
		})
	}
}

// fleetSizes is FLEET_NODES (sizes like 500,1000), or defaults.
func fleetSizes(b *testing.B, defaults ...int) []int {
	env := os.Getenv("FLEET_NODES")
	if env == "" {
		return defaults
	}
	var sizes []int
	for _, s := range strings.Split(env, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("FLEET_NODES=%s: want sizes like 500,1000", env)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// applyOnThisThread applies doc and returns the CPU time of the calling OS
// thread meanwhile (RUSAGE_THREAD): the publisher's own work on the apply,
// apart from the nodes sharing the process.
func applyOnThisThread(b *testing.B, pub *fleettest.Publisher, doc *fleet.Document) (*publisher.Revision, time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	rec, err := pub.Apply(b.Context(), doc, "")
	return rec, threadCPU() - c0, err
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// natsBytes is what the server has received and sent since it started.
func natsBytes(b *testing.B, ns *server.Server) (in, out int64) {
	v, err := ns.Varz(nil)
	if err != nil {
		b.Fatal(err)
	}
	return v.InBytes, v.OutBytes
}

// BenchmarkIdleNodes measures what idle nodes spend on following the
// fleet: 100 nodes (or the first size in FLEET_NODES) on the first revision, nothing applied, for one 30 s
// window per op. CPU is the whole process's (user + system, from
// getrusage), so it includes the embedded NATS server answering the
// nodes; heap is the live heap after a GC with the nodes running minus
// before they started (NATS and the publisher already up), so it is the
// whole node (snapshot, subscriber, NATS connection and the server's side
// of it), not NATS alone.
//
//	go test -run '^$' -bench IdleNodes -benchtime=1x ./runtime/fleetnode
func BenchmarkIdleNodes(b *testing.B) {
	const window = 30 * time.Second
	nodes := fleetSizes(b, 100)[0]
	natsURL := fleettest.StartNATS(b)
	pub := fleettest.StartPublisher(b, natsURL)
	heapBefore := liveHeap()
	startFleet(b, natsURL, pub, nodes)
	heapAfter := liveHeap()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		c0 := processCPU()
		time.Sleep(window) // measuring idleness: nothing to wait for
		cpu += processCPU() - c0
	}
	b.StopTimer()
	nsPerSec := float64(cpu) / float64(b.N) / window.Seconds() // CPU ns per wall second
	b.ReportMetric(nsPerSec/float64(nodes)/1e3, "cpu-µs/node/s")
	b.ReportMetric(nsPerSec/1e9*100, "cpu-%-of-a-core")
	b.ReportMetric(float64(int64(heapAfter)-int64(heapBefore))/float64(nodes)/1024, "heap-KiB/node")
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
