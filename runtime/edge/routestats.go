package edge

import (
	"math"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// maxRouteStats bounds how many routes a status report carries (the
// busiest): a report is one NATS message.
const maxRouteStats = 200

// RouteStats are one route's totals, as status reports carry them.
type RouteStats = fleet.RouteStats

// RouteStats returns each route's totals (route "" is requests no route
// matched), for the fleet's status reports and its dashboard. It reads the
// two series straight from their vectors, not through a scrape of
// /metrics: a few microseconds a route.
func (n *Node) RouteStats() map[string]RouteStats {
	m := n.metrics
	out := map[string]RouteStats{}
	collect(m.requests, func(labels map[string]string, d *dto.Metric) {
		st := out[labels["route"]]
		v := int64(d.GetCounter().GetValue())
		st.Requests += v
		if strings.HasPrefix(labels["code"], "5") {
			st.Errors5xx += v
		}
		out[labels["route"]] = st
	})
	collect(m.latency, func(labels map[string]string, d *dto.Metric) {
		h := d.GetHistogram()
		st := out[labels["route"]]
		st.LatencyBounds, st.LatencyCounts, st.LatencyCount = nil, nil, h.GetSampleCount()
		for _, b := range h.GetBucket() {
			if math.IsInf(b.GetUpperBound(), 1) {
				continue
			}
			st.LatencyBounds = append(st.LatencyBounds, b.GetUpperBound())
			st.LatencyCounts = append(st.LatencyCounts, b.GetCumulativeCount())
		}
		out[labels["route"]] = st
	})
	if len(out) > maxRouteStats {
		names := make([]string, 0, len(out))
		for name := range out {
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool { return out[names[i]].Requests > out[names[j]].Requests })
		for _, name := range names[maxRouteStats:] {
			delete(out, name)
		}
	}
	return out
}

// collect calls f with the labels and value of every series of c.
func collect(c prometheus.Collector, f func(map[string]string, *dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil {
			continue
		}
		labels := make(map[string]string, len(d.GetLabel()))
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		f(labels, &d)
	}
}
