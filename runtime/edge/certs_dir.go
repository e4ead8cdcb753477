package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// CertDirDebounce groups the burst of events one change of --tls-dir makes
// (a cp of two files, a rename, a Kubernetes secret's ..data swap) into one
// reload.
const CertDirDebounce = 100 * time.Millisecond

// scanDir loads every pair in the directory: a NAME with a NAME.crt or a
// NAME.key is a pair, and both files must be there. It returns the pairs
// that loaded, by NAME, and an error naming the file for each that did not;
// a nil map when the directory itself cannot be read.
func (s *CertStore) scanDir() (map[string]*tls.Certificate, []error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, []error{fmt.Errorf("--tls-dir: %w", err)}
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // the temporary files of renames, a Kubernetes ..data
		}
		if ext := filepath.Ext(e.Name()); ext == ".crt" || ext == ".key" {
			names[strings.TrimSuffix(e.Name(), ext)] = true
		}
	}
	found := map[string]*tls.Certificate{}
	var errs []error
	for _, name := range sortedKeys(names) {
		c, err := LoadCertPair(s.dirPair(name), s.now())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found[name] = c
	}
	return found, errs
}

func (s *CertStore) dirPair(name string) CertPair {
	return CertPair{Cert: filepath.Join(s.dir, name+".crt"), Key: filepath.Join(s.dir, name+".key")}
}

// loadDir is the directory's part of NewCertStore: every pair must load.
func (s *CertStore) loadDir() error {
	found, errs := s.scanDir()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(found) == 0 {
		return fmt.Errorf("--tls-dir %s: no NAME.crt and NAME.key pairs", s.dir)
	}
	s.fromDir = found
	return nil
}

// Reload loads the directory again and swaps in the new set: handshakes
// from then on see it; connections already established keep what they
// have. A pair that fails (unreadable, key not matching, expired, one file
// of the two missing) is logged naming its file, and the certificate last
// loaded for its NAME keeps serving; a pair whose files are both gone is
// dropped. A reload that would leave no certificate at all is refused.
func (s *CertStore) Reload() {
	if s.dir == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, errs := s.scanDir()
	if found == nil {
		s.log.Error("TLS certificates reload failed; keeping the certificates loaded", "dir", s.dir, "error", errors.Join(errs...).Error())
		return
	}
	for _, err := range errs {
		s.log.Error("TLS certificate pair refused; keeping the certificate loaded before for it", "dir", s.dir, "error", err.Error())
	}
	next := map[string]*tls.Certificate{}
	for name, old := range s.fromDir {
		if s.pairPresent(name) {
			next[name] = old // replaced below if it loaded again
		}
	}
	for name, c := range found {
		next[name] = c
	}
	if len(next) == 0 && len(s.static) == 0 {
		s.log.Error("TLS certificates reload would leave no certificate; keeping the certificates loaded", "dir", s.dir)
		return
	}
	s.fromDir = next
	s.index.Store(s.build(next))
	s.log.Info("TLS certificates reloaded", "dir", s.dir, "pairs", len(next), "refused", len(errs), "names", s.Names())
}

// pairPresent reports whether either file of the pair NAME is still there
// (or cannot be told gone).
func (s *CertStore) pairPresent(name string) bool {
	p := s.dirPair(name)
	for _, f := range []string{p.Cert, p.Key} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}

// Watch reloads the directory on every change, in the background, until
// ctx is done. It returns once the watch is in place, so a change made
// after it returns is seen. Without a directory it does nothing.
func (s *CertStore) Watch(ctx context.Context) error {
	if s.dir == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch --tls-dir: %w", err)
	}
	if err := w.Add(s.dir); err != nil {
		w.Close()
		return fmt.Errorf("watch --tls-dir: %w", err)
	}
	go func() {
		defer w.Close()
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				debounce = time.After(CertDirDebounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Warn("--tls-dir watch error", "dir", s.dir, "error", err)
			case <-debounce:
				debounce = nil
				s.Reload()
			}
		}
	}()
	return nil
}
