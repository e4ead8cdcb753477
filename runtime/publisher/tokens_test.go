package publisher_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
)

// apiErr asserts err is an API error with status and a message holding
// every one of want.
func apiErr(t *testing.T, what string, err error, status int, want ...string) {
	t.Helper()
	var ae *fleetclient.APIError
	if !errors.As(err, &ae) || ae.Status != status {
		t.Fatalf("%s: got %v, want a %d", what, err, status)
	}
	for _, w := range want {
		if !strings.Contains(ae.Message, w) {
			t.Fatalf("%s: message %q lacks %q", what, ae.Message, w)
		}
	}
}

func TestTokenRolesOnTheAPI(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	ctx := context.Background()
	admin := pub.Client

	who, err := admin.WhoAmI(ctx)
	if err != nil || who.Name != publisher.BootstrapTokenName || who.Role != publisher.RoleAdmin {
		t.Fatalf("the bootstrap token: %+v %v", who, err)
	}
	clients := map[string]*fleetclient.Client{}
	for _, role := range []string{publisher.RoleRead, publisher.RoleDeploy, publisher.RoleAdmin} {
		nt, err := admin.CreateToken(ctx, "ci-"+role, role)
		if err != nil {
			t.Fatalf("create %s: %v", role, err)
		}
		if len(nt.Token) != 64 || nt.Name != "ci-"+role || nt.Role != role || nt.CreatedBy != publisher.BootstrapTokenName {
			t.Fatalf("created: %+v", nt)
		}
		clients[role] = &fleetclient.Client{URL: pub.URL, Token: nt.Token}
	}
	reader, deployer, admin2 := clients[publisher.RoleRead], clients[publisher.RoleDeploy], clients[publisher.RoleAdmin]

	// read: status and the fleet page's data, nothing that changes the fleet.
	if _, err := reader.Status(ctx); err != nil {
		t.Fatalf("read token, status: %v", err)
	}
	if code, _ := getAuth(t, pub.URL+"/v1/fleet", reader.Token); code != 200 {
		t.Fatalf("read token, /v1/fleet: %d", code)
	}
	doc := &fleet.Document{Config: fleettest.RouteConfig("users", "http://127.0.0.1:1")}
	_, err = reader.Apply(ctx, doc, "")
	apiErr(t, "read token, apply", err, http.StatusForbidden, "forbidden", "POST /v1/apply", "role deploy", `"ci-read"`, "role read")
	_, err = reader.Rollback(ctx, 0)
	apiErr(t, "read token, rollback", err, http.StatusForbidden, "role deploy")
	_, err = reader.Promote(ctx)
	apiErr(t, "read token, promote", err, http.StatusForbidden, "role deploy")
	_, _, err = reader.Upload(ctx, map[string][]byte{fleet.Digest([]byte("x")): []byte("x")})
	apiErr(t, "read token, upload", err, http.StatusForbidden, "role deploy")

	// deploy: applies (recorded under its name), cannot manage tokens.
	rev, err := deployer.Apply(ctx, doc, "")
	if err != nil || rev.Author != "ci-deploy" {
		t.Fatalf("deploy token, apply: %+v %v", rev, err)
	}
	// A node's NATS credentials are an admin's to sign.
	userKey := "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
	_, err = deployer.NodeCreds(ctx, "edge-a", userKey, nil, 0)
	apiErr(t, "deploy token, node-creds", err, http.StatusForbidden, "role admin")
	_, err = admin.NodeCreds(ctx, "edge-a", userKey, nil, 0)
	apiErr(t, "node-creds from a publisher without a NATS account", err, http.StatusBadRequest, "signs no NATS credentials")
	// So is revoking them; a revocation without an account is refused too.
	_, err = deployer.RevokeNode(ctx, "edge-a", "")
	apiErr(t, "deploy token, node-creds revoke", err, http.StatusForbidden, "POST /v1/nodes/edge-a/revoke", "role admin")
	_, err = reader.RevokeNode(ctx, "edge-a", "")
	apiErr(t, "read token, node-creds revoke", err, http.StatusForbidden, "role admin")
	if resp, err := http.Post(pub.URL+"/v1/nodes/edge-a/revoke", "application/json", strings.NewReader("{}")); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("node-creds revoke without a token: %v %v, want a 401", resp, err)
	} else {
		resp.Body.Close()
	}
	_, err = (&fleetclient.Client{URL: pub.URL, Token: "wrong"}).RevokeNode(ctx, "edge-a", "")
	apiErr(t, "a wrong token, node-creds revoke", err, http.StatusUnauthorized, "not one this publisher issued")
	_, err = admin.RevokeNode(ctx, "edge-a", "")
	apiErr(t, "node-creds revoke on a publisher without a NATS account", err, http.StatusBadRequest, "signs no NATS credentials")
	_, err = deployer.CreateToken(ctx, "sneaky", publisher.RoleAdmin)
	apiErr(t, "deploy token, create a token", err, http.StatusForbidden, "POST /v1/tokens", "role admin", `"ci-deploy"`)
	_, err = deployer.Tokens(ctx)
	apiErr(t, "deploy token, list tokens", err, http.StatusForbidden, "role admin")
	apiErr(t, "deploy token, revoke", deployer.RevokeToken(ctx, "ci-read"), http.StatusForbidden, "role admin")

	// admin: lists names and roles, never a token or its hash.
	list, err := admin2.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range list {
		names = append(names, ti.Name+"="+ti.Role)
	}
	if got := strings.Join(names, " "); got != "bootstrap=admin ci-admin=admin ci-deploy=deploy ci-read=read" {
		t.Fatalf("token list: %s", got)
	}
	_, raw := getAuth(t, pub.URL+"/v1/tokens", admin2.Token)
	for _, c := range clients {
		if strings.Contains(raw, c.Token) || strings.Contains(raw, publisher.HashToken(c.Token)) {
			t.Fatalf("the token list shows a token or its hash: %s", raw)
		}
	}

	// Names are unique and checked; roles are checked.
	_, err = admin.CreateToken(ctx, "ci-read", publisher.RoleRead)
	apiErr(t, "a second ci-read", err, http.StatusConflict, `"ci-read"`)
	_, err = admin.CreateToken(ctx, "bootstrap", publisher.RoleRead)
	apiErr(t, "a second bootstrap", err, http.StatusConflict, `"bootstrap"`)
	_, err = admin.CreateToken(ctx, "Bad Name", publisher.RoleRead)
	apiErr(t, "a bad name", err, http.StatusBadRequest, `"Bad Name"`)
	_, err = admin.CreateToken(ctx, "x", "root")
	apiErr(t, "a bad role", err, http.StatusBadRequest, `"root"`, "read, deploy or admin")
	apiErr(t, "revoke an unknown token", admin.RevokeToken(ctx, "nobody"), http.StatusNotFound, `"nobody"`)
	apiErr(t, "revoke the bootstrap", admin.RevokeToken(ctx, publisher.BootstrapTokenName), http.StatusBadRequest, fleet.TokenFile)

	// A revoked token is refused at once.
	if err := admin2.RevokeToken(ctx, "ci-read"); err != nil {
		t.Fatal(err)
	}
	_, err = reader.Status(ctx)
	apiErr(t, "a revoked token", err, http.StatusUnauthorized, "unauthorized", "not one this publisher issued")

	// The file holds hashes only, mode 0600.
	path := filepath.Join(pub.Dir, publisher.TokensFile)
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", path, info, err)
	}
	data, _ := os.ReadFile(path)
	for _, c := range clients {
		if strings.Contains(string(data), c.Token) {
			t.Fatalf("%s holds a token in clear", path)
		}
	}
	if !strings.Contains(string(data), publisher.HashToken(deployer.Token)) || strings.Contains(string(data), publisher.HashToken(reader.Token)) {
		t.Fatalf("%s: want the deploy token's hash and not the revoked one's:\n%s", path, data)
	}

	// A publisher restarted on the same data dir knows the same tokens.
	_, js := fleettest.Connect(t, natsURL)
	p2, err := publisher.New(ctx, publisher.Options{DataDir: pub.Dir, JS: js, Logger: fleettest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Close)
	srv := httptest.NewServer(p2.Handler())
	t.Cleanup(srv.Close)
	if who, err := (&fleetclient.Client{URL: srv.URL, Token: deployer.Token}).WhoAmI(ctx); err != nil || who.Name != "ci-deploy" || who.Role != publisher.RoleDeploy {
		t.Fatalf("deploy token after a restart: %+v %v", who, err)
	}
	_, err = (&fleetclient.Client{URL: srv.URL, Token: reader.Token}).Status(ctx)
	apiErr(t, "revoked token after a restart", err, http.StatusUnauthorized)
}

func TestUnauthorizedSaysWhatIsMissing(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	for _, c := range []struct{ header, want string }{
		{"", "no Authorization header"},
		{"Basic " + pub.Identity().Token, "scheme: want Bearer TOKEN"},
		{"Bearer wrong", "not one this publisher issued"},
		{"Bearer ", "not one this publisher issued"},
	} {
		req, _ := http.NewRequest("GET", pub.URL+"/v1/status", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), c.want) || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d %s, want a 401 saying %q", c.header, resp.StatusCode, b, c.want)
		}
	}
}

func getAuth(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
