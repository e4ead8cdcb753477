package edge

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// wasmMetricsCollector exports the metrics proxy-wasm filters define
// (proxy_define_metric) as sluice_proxywasm_NAME, NAME with every character
// Prometheus does not allow turned into "_". They are the node's, like
// Envoy's stats: they outlive snapshot swaps. Unchecked (Describe sends
// nothing): the guests decide the names at run time.
type wasmMetricsCollector struct{ node *Node }

func (c *wasmMetricsCollector) Describe(chan<- *prometheus.Desc) {}

func (c *wasmMetricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.acquire()
	if s == nil {
		return
	}
	defer s.release()
	if s.wasm == nil {
		return
	}
	for _, m := range s.wasm.Metrics() {
		desc := prometheus.NewDesc(promName("sluice_proxywasm_"+m.Name), "Defined by a proxy-wasm filter: "+m.Name+".", nil, nil)
		switch m.Kind {
		case "counter":
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, m.Value)
		case "gauge":
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, m.Value)
		case "histogram":
			ch <- prometheus.MustNewConstHistogram(desc, m.Count, m.Sum, m.Buckets)
		}
	}
}

// promName maps a metric name onto Prometheus' [a-zA-Z_:][a-zA-Z0-9_:]*.
func promName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, s)
}
