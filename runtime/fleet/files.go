package fleet

import (
	"os"
	"path/filepath"
)

// WriteAtomic writes data beside path and renames it into place, so a crash
// never leaves a half-written artifact under its final name.
func WriteAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		// Only on failure: after the rename the name is gone, and removing
		// it anyway cost two failing syscalls per write (a node writes its
		// last good snapshot on every apply).
		os.Remove(f.Name())
	}
	return err
}
