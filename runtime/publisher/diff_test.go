package publisher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

const diffBase = `upstreams:
  users: {endpoints: [http://127.0.0.1:9001]}
  billing: {endpoints: [http://127.0.0.1:9002]}
filters:
  rid: {module: rid.wasm, config: {header: X-Request-ID}}
policies:
  authz: {module: authz}
auth:
  keys: {api_key: {header: X-API-Key, keys: {old-secret-key: {consumer: acme}}}}
routes:
  - {name: a, match: {path_prefix: /a}, upstream: users, filters: [rid]}
  - {name: b, match: {path_prefix: /b}, upstream: billing}
  - {name: c, match: {path_prefix: /c}, upstream: users, rate_limit: {requests: 10, per: 1s}}
  - {name: d, match: {path_prefix: /d}, upstream: users, policy: authz, auth: [keys]}
`

func diffDoc(config string, filters, policies map[string]string) *fleet.Document {
	return &fleet.Document{Config: config, Source: "sluice.yaml", Filters: filters, Policies: policies}
}

func TestDiffNamesWhatChanged(t *testing.T) {
	old := diffDoc(diffBase, map[string]string{"rid": "sha256:1111111111111111aaaa"}, map[string]string{"authz": "sha256:2222"})

	// The same config, with defaults written out and a module moved (same
	// bytes): nothing changes.
	same := strings.Replace(diffBase, "billing: {endpoints: [http://127.0.0.1:9002]}", "billing: {endpoints: [http://127.0.0.1:9002], balance: round_robin}", 1)
	same = strings.Replace(same, "module: rid.wasm", "module: filters/rid.wasm", 1)
	d, err := publisher.DiffDocuments(old, diffDoc(same, old.Filters, old.Policies))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Fatalf("an equivalent config differs: %+v", d)
	}

	next := `upstreams:
  users: {endpoints: [http://127.0.0.1:9001, http://127.0.0.1:9011]}
  payments: {endpoints: [http://127.0.0.1:9003]}
filters:
  rid: {module: rid.wasm, config: {header: X-Req}, limits: {timeout: 20ms}}
policies:
  authz: {module: authz}
auth:
  keys: {api_key: {header: X-API-Key, keys: {new-secret-key: {consumer: acme}}}}
routes:
  - {name: d, match: {path_prefix: /d}, upstream: users, policy: authz, auth: [keys]}
  - {name: a, match: {path_prefix: /a}, upstream: payments, filters: [rid], rate_limit: {requests: 5, per: 1s}}
  - {name: c, match: {path_prefix: /c}, upstream: users, rate_limit: {requests: 20, per: 1s}}
  - {name: e, match: {path: /e}, upstream: users, rate_limit: {requests: 1, per: 1s}}
`
	d, err = publisher.DiffDocuments(old, diffDoc(next, map[string]string{"rid": "sha256:3333333333333333bbbb"}, old.Policies))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(d)
	for _, want := range []string{
		`"routes":{"added":["e"],"removed":["b"],"changed":[{"name":"a","fields":["upstream","order"]},{"name":"c","fields":["order"]},{"name":"d","fields":["order"]}]}`,
		`"upstreams":{"added":["payments"],"removed":["billing"],"changed":[{"name":"users","fields":["endpoints"]}]}`,
		`"filters":{"added":[],"removed":[],"changed":[{"name":"rid","fields":["module","config"],"from":"sha256:1111111111111111aaaa","to":"sha256:3333333333333333bbbb"}]}`,
		`"policies":{"added":[],"removed":[],"changed":[]}`,
		`"auth":{"added":[],"removed":[],"changed":[{"name":"keys","fields":["api_key"]}]}`,
		`"limits":{"added":["route a"],"removed":[],"changed":[{"name":"filter rid","fields":["timeout"]},{"name":"route c","fields":["requests"]}]}`,
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("diff lacks %s\n%s", want, got)
		}
	}
	// Names and keys, never values: no secret, no endpoint.
	if bytes.Contains(got, []byte("secret-key")) || bytes.Contains(got, []byte("127.0.0.1")) {
		t.Errorf("the diff shows values: %s", got)
	}
	var text bytes.Buffer
	d.WriteText(&text)
	for _, want := range []string{
		"13 change(s)\n",
		"  + route e\n", "  - route b\n", "  ~ route a: upstream, order\n",
		"  ~ filter rid: module sha256:111111111111 → sha256:333333333333, config\n",
		"  + limits of route a\n", "  ~ limits of filter rid: timeout\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if d.Count() != 13 {
		t.Errorf("count %d, want 13:\n%s", d.Count(), text.String())
	}

	// Against nothing: everything is added.
	d, err = publisher.DiffDocuments(nil, old)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Routes.Added) != 4 || len(d.Filters.Added) != 1 || len(d.Limits.Added) != 0 || len(d.Routes.Changed) != 0 {
		t.Fatalf("against nothing: %+v", d)
	}
	text.Reset()
	d.WriteText(&text)
	if !strings.HasPrefix(text.String(), "against no stable revision (none published yet): ") {
		t.Fatalf("text against nothing: %s", text.String())
	}

	// An invalid config is an invalid config.
	if _, err := publisher.DiffDocuments(old, diffDoc("routes: [{name: x, upstream: nobody}]\n", nil, nil)); err == nil || !strings.Contains(err.Error(), "invalid config") {
		t.Fatalf("invalid config: %v", err)
	}
}

func TestDiffAgainstTheRunningStableAndApplyPrintsIt(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	ctx := context.Background()
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	first := fleettest.RouteConfig("users", fleettest.Upstream(t, "v1"))
	rev := pub.MustApply(t, first, "")
	testkit.WaitFor(t, 10*time.Second, "revision 1 served", fleettest.Serves(t, e, "/users", "v1:"))

	nt, err := pub.Client.CreateToken(ctx, "viewer", publisher.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	viewer := &fleetclient.Client{URL: pub.URL, Token: nt.Token}
	d, err := viewer.Diff(ctx, &fleet.Document{Config: first, Source: "sluice.yaml"})
	if err != nil || !d.Empty() || d.Against != rev {
		t.Fatalf("diff of the running config: %+v %v", d, err)
	}
	second := "upstreams: {users: {endpoints: [" + fleettest.Upstream(t, "v2") + "]}, billing: {endpoints: [http://127.0.0.1:1]}}\n" +
		"routes: [{name: users, match: {path_prefix: /users}, upstream: users}, {name: billing, match: {path_prefix: /billing}, upstream: billing}]\n"
	d, err = viewer.Diff(ctx, &fleet.Document{Config: second, Source: "sluice.yaml"})
	if err != nil || d.Against != rev || strings.Join(d.Routes.Added, ",") != "billing" || strings.Join(d.Upstreams.Added, ",") != "billing" ||
		len(d.Upstreams.Changed) != 1 || d.Upstreams.Changed[0].Name != "users" || d.Count() != 3 {
		t.Fatalf("diff of a second config: %+v %v", d, err)
	}
	// Nothing was published by a diff.
	if st, _ := pub.Client.Status(ctx); st.Stable != rev {
		t.Fatalf("stable after a diff: %d", st.Stable)
	}
	// apply answers with the same diff.
	sum, err := pub.ApplyYAML(t, second, "")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(sum.Diff)
	b, _ := json.Marshal(d)
	if string(a) != string(b) {
		t.Fatalf("apply's diff %s\nwant diff's %s", a, b)
	}
	d, err = viewer.Diff(ctx, &fleet.Document{Config: second, Source: "sluice.yaml"})
	if err != nil || !d.Empty() || d.Against != sum.Revision {
		t.Fatalf("diff after applying it: %+v %v", d, err)
	}
	_, err = viewer.Diff(ctx, &fleet.Document{Config: "routes: [{name: x, upstream: nobody}]\n"})
	apiErr(t, "diff of an invalid config", err, 422, "unknown upstream")
}
