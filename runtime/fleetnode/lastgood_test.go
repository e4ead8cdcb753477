package fleetnode

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/fleet"
)

func goodAt(rev int64) lastGood {
	return lastGood{Envelope: &fleet.Envelope{Revision: rev, Digest: "sha256:x"}, Floor: rev}
}

func readRevision(t *testing.T, st *lastGoodStore) int64 {
	t.Helper()
	lg, err := st.read()
	if err != nil {
		t.Fatal(err)
	}
	return lg.Envelope.Revision
}

// TestLastGoodSurvivesATornWrite: the two slots are written in turn, boot
// reads the newest, and a slot cut short (a crash mid-write, a shorter
// snapshot over a longer one before its cut) leaves the one before.
func TestLastGoodSurvivesATornWrite(t *testing.T) {
	dir := t.TempDir()
	st := newLastGoodStore(dir)
	if _, err := st.read(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty data dir: %v, want ErrNotExist", err)
	}
	for rev := int64(1); rev <= 3; rev++ {
		if err := st.write(goodAt(rev)); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh store, as at boot.
	if got := readRevision(t, newLastGoodStore(dir)); got != 3 {
		t.Fatalf("boot reads revision %d, want the newest, 3", got)
	}

	// Tear the newest slot: its old tail behind a shorter document.
	newest := st.slot(st.seq)
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	torn := append(json.RawMessage(`{"envelope":{"revision":9},"seq":99}`), data[len(data)/2:]...)
	if err := os.WriteFile(newest, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	booted := newLastGoodStore(dir)
	if got := readRevision(t, booted); got != 2 {
		t.Fatalf("after a torn write boot reads revision %d, want the slot before, 2", got)
	}
	// The next write goes over the torn slot, not over the good one.
	if err := booted.write(goodAt(4)); err != nil {
		t.Fatal(err)
	}
	if got := readRevision(t, newLastGoodStore(dir)); got != 4 {
		t.Fatalf("after writing again boot reads %d, want 4", got)
	}
}

// TestLastGoodReadsTheReleaseOneFile: a node upgraded in place boots from
// the single file release 1 wrote; the first write replaces it.
func TestLastGoodReadsTheReleaseOneFile(t *testing.T) {
	dir := t.TempDir()
	st := newLastGoodStore(dir)
	if err := os.MkdirAll(filepath.Dir(st.legacy), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.legacy, fleet.MustJSON(goodAt(7)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readRevision(t, st); got != 7 {
		t.Fatalf("boot reads %d from the release 1 file, want 7", got)
	}
	if err := st.write(goodAt(8)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("release 1 file still there after the first write: %v", err)
	}
	if got := readRevision(t, newLastGoodStore(dir)); got != 8 {
		t.Fatalf("boot reads %d, want 8", got)
	}
}

// TestLastGoodUnreadableIsNamed: slots that exist but do not parse are an
// error naming the file, not an empty data dir.
func TestLastGoodUnreadableIsNamed(t *testing.T) {
	dir := t.TempDir()
	st := newLastGoodStore(dir)
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.slot(0), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := st.read()
	if err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "last-good-0.json") {
		t.Fatalf("unreadable slot: %v, want an error naming last-good-0.json", err)
	}
}
