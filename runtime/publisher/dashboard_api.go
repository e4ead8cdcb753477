package publisher

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// dashboardRun is the dashboard of a running publisher: it follows the
// nodes from NewPublisher to Close.
type dashboardRun struct {
	*dashboard
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	views map[string]*RevisionView // by digest: the stable and canary ones
}

func startDashboard(nodes jetstream.KeyValue) *dashboardRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &dashboardRun{dashboard: newDashboard(), cancel: cancel, done: make(chan struct{}), views: map[string]*RevisionView{}}
	go func() { defer close(r.done); r.run(ctx, nodes) }()
	return r
}

func (r *dashboardRun) stop() {
	r.cancel()
	<-r.done
}

// RevisionView is what a revision runs: its routes, filters and policies.
type RevisionView struct {
	Revision int64          `json:"revision"`
	Digest   string         `json:"digest"`
	Selector string         `json:"selector,omitempty"`
	Routes   []RouteView    `json:"routes"`
	Filters  []ArtifactView `json:"filters"`
	Policies []ArtifactView `json:"policies"`
}

// RouteView is one route of a revision, as the page lists it.
type RouteView struct {
	Name     string   `json:"name"`
	Match    string   `json:"match"` // "host api.example.com, path_prefix /users, methods GET,POST"
	Upstream string   `json:"upstream,omitempty"`
	Auth     []string `json:"auth,omitempty"`
	Policy   string   `json:"policy,omitempty"`
	Filters  []string `json:"filters,omitempty"`
}

// ArtifactView is a filter or policy and the digest of its module.
type ArtifactView struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// Dashboard is the answer of GET /v1/dashboard: the charts of the last
// DashboardWindow per node and per track (the nodes on the stable
// revision, and on the canary during a rollout), and what each runs.
type Dashboard struct {
	Now           time.Time     `json:"now"`
	WindowSeconds float64       `json:"window_seconds"`
	Nodes         []NodeCharts  `json:"nodes"`
	Stable        *TrackCharts  `json:"stable"`
	Canary        *TrackCharts  `json:"canary"`
	StableConfig  *RevisionView `json:"stable_config"`
	CanaryConfig  *RevisionView `json:"canary_config"`
}

// Dashboard gathers the charts and the running revisions.
func (p *Publisher) Dashboard(ctx context.Context) (*Dashboard, error) {
	out := &Dashboard{Now: p.dash.now().UTC(), WindowSeconds: DashboardWindow.Seconds(), Nodes: p.dash.nodeCharts()}
	for _, t := range []struct {
		key    string
		charts **TrackCharts
		view   **RevisionView
	}{{fleet.StableKey, &out.Stable, &out.StableConfig}, {fleet.CanaryKey, &out.Canary, &out.CanaryConfig}} {
		env, err := p.envelope(ctx, t.key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		*t.charts = p.dash.track(env.Revision)
		if *t.view, err = p.dash.view(env); err != nil {
			return nil, err
		}
	}
	p.dash.keepViews(out.StableConfig, out.CanaryConfig)
	return out, nil
}

// view is the RevisionView of env, parsed once per digest.
func (r *dashboardRun) view(env *fleet.Envelope) (*RevisionView, error) {
	r.mu.Lock()
	v := r.views[env.Digest]
	r.mu.Unlock()
	if v != nil {
		return v, nil
	}
	doc, err := env.UnverifiedDocument()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse([]byte(doc.Config), doc.Source)
	if err != nil {
		return nil, err
	}
	v = &RevisionView{Revision: env.Revision, Digest: env.Digest, Selector: env.Selector, Routes: []RouteView{}}
	for _, rt := range cfg.Routes {
		v.Routes = append(v.Routes, RouteView{Name: rt.Name, Match: matchText(rt.Match), Upstream: rt.Upstream,
			Auth: rt.Auth, Policy: rt.Policy, Filters: rt.Filters})
	}
	v.Filters, v.Policies = artifactViews(doc.Filters), artifactViews(doc.Policies)
	r.mu.Lock()
	r.views[env.Digest] = v
	r.mu.Unlock()
	return v, nil
}

// keepViews forgets the parsed revisions no longer stable or canary.
func (r *dashboardRun) keepViews(keep ...*RevisionView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for digest := range r.views {
		kept := false
		for _, v := range keep {
			kept = kept || (v != nil && v.Digest == digest)
		}
		if !kept {
			delete(r.views, digest)
		}
	}
}

func matchText(m config.Match) string {
	var parts []string
	if m.Host != "" {
		parts = append(parts, "host "+m.Host)
	}
	if m.Path != "" {
		parts = append(parts, "path "+m.Path)
	}
	if m.PathPrefix != "" {
		parts = append(parts, "path_prefix "+m.PathPrefix)
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(m.Methods, ","))
	}
	var hs []string
	for k, v := range m.Headers {
		hs = append(hs, k+": "+v)
	}
	sort.Strings(hs)
	if len(hs) > 0 {
		parts = append(parts, "headers "+strings.Join(hs, "; "))
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, ", ")
}

func artifactViews(m map[string]string) []ArtifactView {
	out := []ArtifactView{}
	for name, d := range m {
		out = append(out, ArtifactView{Name: name, Digest: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *Publisher) serveDashboard(w http.ResponseWriter, r *http.Request) {
	d, err := p.Dashboard(r.Context())
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, http.StatusOK, d)
}
