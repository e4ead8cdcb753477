package publisher

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
)

// Roles of API tokens, each allowing what the one before it does and more:
// read sees the fleet (status, diff, history, the fleet page), deploy also
// changes it (apply, rollout, rollback), admin also manages tokens.
const (
	RoleRead   = "read"
	RoleDeploy = "deploy"
	RoleAdmin  = "admin"
)

// BootstrapTokenName is the name of the token in the data dir's token file:
// it is always an admin, so a fresh publisher can be driven at once (and
// `sluice dev` and `--data DIR` keep working) and can create the others.
const BootstrapTokenName = "bootstrap"

// TokensFile holds the named tokens in the publisher's data dir, hashed.
const TokensFile = "tokens.json"

var roleRank = map[string]int{RoleRead: 1, RoleDeploy: 2, RoleAdmin: 3}

// ValidRole reports whether role is read, deploy or admin.
func ValidRole(role string) bool { return roleRank[role] > 0 }

// roleAllows reports whether a token with role may do what need requires.
func roleAllows(role, need string) bool {
	return roleRank[role] > 0 && roleRank[role] >= roleRank[need]
}

var tokenNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// TokenInfo is what the publisher keeps and shows of a token: never the
// token itself.
type TokenInfo struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// tokenRecord is one line of tokens.json: the token's SHA-256, not the
// token. A token is 32 random bytes, so a plain hash cannot be reversed by
// guessing; a slow password hash would only slow every request.
type tokenRecord struct {
	TokenInfo
	SHA256 string `json:"sha256"`
}

// tokenStore is the publisher's named tokens, kept in memory and written
// through to tokens.json (mode 0600, replaced atomically) on every change.
type tokenStore struct {
	path string

	mu     sync.RWMutex
	byHash map[string]*tokenRecord // hex SHA-256 of the token → record
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// openTokens loads dir/tokens.json (none yet is an empty store) and adds
// the bootstrap token as an admin.
func openTokens(dir, bootstrap string) (*tokenStore, error) {
	s := &tokenStore{path: filepath.Join(dir, TokensFile), byHash: map[string]*tokenRecord{}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("tokens: %w", err)
	default:
		var recs []*tokenRecord
		if err := json.Unmarshal(data, &recs); err != nil {
			return nil, fmt.Errorf("tokens: %s: %w", s.path, err)
		}
		for _, r := range recs {
			if !ValidRole(r.Role) || len(r.SHA256) != 64 {
				return nil, fmt.Errorf("tokens: %s: token %q has role %q or a malformed hash", s.path, r.Name, r.Role)
			}
			s.byHash[r.SHA256] = r
		}
	}
	if bootstrap != "" {
		s.byHash[hashToken(bootstrap)] = &tokenRecord{TokenInfo: TokenInfo{Name: BootstrapTokenName, Role: RoleAdmin}}
	}
	return s, nil
}

// lookup returns the token's record, or nil for a token never issued or
// revoked. The lookup is by the token's hash, so how long it takes says
// nothing about how much of a real token a guess got right.
func (s *tokenStore) lookup(token string) *TokenInfo {
	if token == "" {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r, ok := s.byHash[hashToken(token)]; ok {
		info := r.TokenInfo
		return &info
	}
	return nil
}

// create issues a new token named name with role and returns it: the only
// time it is ever seen.
func (s *tokenStore) create(name, role, by string) (string, *TokenInfo, error) {
	if !tokenNameRE.MatchString(name) {
		return "", nil, fmt.Errorf("token name %q: want 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit: %w", name, fleet.ErrBadRequest)
	}
	if !ValidRole(role) {
		return "", nil, fmt.Errorf("token %q: role %q: want read, deploy or admin: %w", name, role, fleet.ErrBadRequest)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.byHash {
		if r.Name == name {
			return "", nil, fmt.Errorf("token %q: %w (revoke it first)", name, fleet.ErrTokenExists)
		}
	}
	rec := &tokenRecord{TokenInfo: TokenInfo{Name: name, Role: role, Created: time.Now().UTC(), CreatedBy: by}, SHA256: hashToken(token)}
	s.byHash[rec.SHA256] = rec
	if err := s.save(); err != nil {
		delete(s.byHash, rec.SHA256)
		return "", nil, err
	}
	info := rec.TokenInfo
	return token, &info, nil
}

// revoke removes the token named name; it is refused from then on.
func (s *tokenStore) revoke(name string) (*TokenInfo, error) {
	if name == BootstrapTokenName {
		return nil, fmt.Errorf("token %q is the data dir's %s file: replace that file and restart the publisher to change it: %w",
			name, fleet.TokenFile, fleet.ErrBadRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, r := range s.byHash {
		if r.Name == name {
			delete(s.byHash, h)
			if err := s.save(); err != nil {
				s.byHash[h] = r
				return nil, err
			}
			info := r.TokenInfo
			return &info, nil
		}
	}
	return nil, fmt.Errorf("token %q: %w", name, fleet.ErrNoToken)
}

// list returns every token, bootstrap included, by name.
func (s *tokenStore) list() []TokenInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]TokenInfo, 0, len(s.byHash))
	for _, r := range s.byHash {
		out = append(out, r.TokenInfo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// save writes every named token (not the bootstrap, which has its own
// file) to a temporary file and renames it over tokens.json. s.mu is held.
func (s *tokenStore) save() error {
	recs := []*tokenRecord{}
	for _, r := range s.byHash {
		if r.Name != BootstrapTokenName {
			recs = append(recs, r)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tokens-*.json")
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("tokens: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tokens: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	return nil
}
