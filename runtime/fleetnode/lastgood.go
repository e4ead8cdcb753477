package fleetnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/sluicegw/sluice/runtime/fleet"
)

// lastGood is what the node keeps on disk: the envelope it runs (verified
// again on boot), the replay floor, and the number of the write, which
// tells the newer of the two slots.
type lastGood struct {
	Envelope *fleet.Envelope `json:"envelope"`
	Floor    int64           `json:"floor"`
	Seq      int64           `json:"seq"`
}

// lastGoodStore keeps the last good snapshot in two files written in turn,
// each rewritten in place. A new file renamed over the old one (the usual
// atomic write) cost ~0.6 ms of kernel time per apply on ext4, against
// ~0.02 ms for a rewrite (RATIONALE.md, "Fleet: the last good snapshot in
// two slots"); a write cut short leaves a slot that does not parse, and
// boot takes the other one, so the previous snapshot survives a crash as
// it did with the rename.
type lastGoodStore struct {
	dir string

	mu     sync.Mutex // one write at a time; guards seq and ready
	seq    int64      // of the newest slot read or written
	ready  bool       // dir exists and the release 1 file is gone
	legacy string
}

// lastGoodSlots is how many files the store writes in turn.
const lastGoodSlots = 2

func newLastGoodStore(dataDir string) *lastGoodStore {
	dir := filepath.Join(dataDir, "fleet")
	return &lastGoodStore{dir: dir, legacy: filepath.Join(dir, "last-good.json")}
}

func (st *lastGoodStore) slot(seq int64) string {
	return filepath.Join(st.dir, fmt.Sprintf("last-good-%d.json", seq%lastGoodSlots))
}

// read returns the newest slot that parses (a node of release 1 wrote one
// file, read as the oldest); fs.ErrNotExist when there is none.
func (st *lastGoodStore) read() (*lastGood, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var newest *lastGood
	var unreadable error
	for _, path := range []string{st.legacy, st.slot(0), st.slot(1)} {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var lg lastGood
		if err == nil {
			err = json.Unmarshal(data, &lg)
		}
		if err == nil && lg.Envelope == nil {
			err = errors.New("no envelope")
		}
		if err != nil {
			unreadable = fmt.Errorf("last good snapshot %s: unreadable: %w", path, err)
			continue
		}
		if newest == nil || lg.Seq > newest.Seq {
			newest = &lg
		}
	}
	switch {
	case newest != nil:
		st.seq = max(st.seq, newest.Seq)
		return newest, nil
	case unreadable != nil:
		return nil, unreadable
	}
	return nil, fs.ErrNotExist
}

// write rewrites the slot that does not hold the newest snapshot.
func (st *lastGoodStore) write(lg lastGood) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.ready {
		if err := os.MkdirAll(st.dir, 0o755); err != nil {
			return err
		}
	}
	lg.Seq = st.seq + 1
	f, err := os.OpenFile(st.slot(lg.Seq), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	data := fleet.MustJSON(lg)
	// Written over the old content, then cut to length: until the cut, a
	// shorter snapshot leaves the old tail behind it, which does not parse.
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	st.seq = lg.Seq
	if !st.ready {
		// The slot now holds what the release 1 file did, or newer.
		if err := os.Remove(st.legacy); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		st.ready = true
	}
	return nil
}
