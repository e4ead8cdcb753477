package edge

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/sluicegw/sluice/runtime/config"
)

// reloadDebounce groups the burst of events one save makes (editors write,
// rename and chmod) into a single rebuild.
const reloadDebounce = 100 * time.Millisecond

// FileSource feeds a node from a config file: applied once at start, then
// again on SIGHUP (sent on Reload) or when the file changes on disk.
type FileSource struct {
	Path   string
	Node   *Node
	Reload <-chan os.Signal // optional: SIGHUP

	last []byte // the bytes of the last applied file, to skip no-op events
}

// Load applies the file once. It is the boot step: an error here means the
// node has nothing to serve.
func (f *FileSource) Load() error {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return f.apply(data)
}

func (f *FileSource) apply(data []byte) error {
	cfg, err := config.Parse(data, f.Path)
	if err != nil {
		f.Node.metrics.reloads.WithLabelValues("error").Inc()
		return err
	}
	if abs, err := filepath.Abs(filepath.Dir(f.Path)); err == nil {
		cfg.Dir = abs
	}
	if _, err := f.Node.Apply(cfg); err != nil {
		return err
	}
	f.last = data
	return nil
}

// Watch starts reapplying the file on every change, in the background,
// until ctx is done. It returns once the watch is in place, so a change
// made after it returns is seen. A bad new file is logged and refused; the
// running snapshot keeps serving.
func (f *FileSource) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	// Watch the directory, not the file: editors and Kubernetes ConfigMaps
	// replace the file by renaming, which ends a watch on the file itself.
	if err := w.Add(filepath.Dir(f.Path)); err != nil {
		w.Close()
		return fmt.Errorf("watch config: %w", err)
	}
	go f.loop(ctx, w)
	return nil
}

func (f *FileSource) loop(ctx context.Context, w *fsnotify.Watcher) {
	defer w.Close()
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.Reload:
			f.reload("signal", true)
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == filepath.Clean(f.Path) || filepath.Base(ev.Name) == "..data" {
				debounce = time.After(reloadDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			f.Node.log.Warn("config watch error", "error", err)
		case <-debounce:
			debounce = nil
			f.reload("file change", false)
		}
	}
}

func (f *FileSource) reload(cause string, force bool) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		f.Node.log.Error("config reload failed; keeping the running snapshot", "cause", cause, "error", err)
		return
	}
	if !force && bytes.Equal(data, f.last) {
		return
	}
	if err := f.apply(data); err != nil {
		f.Node.log.Error("config reload refused; keeping the running snapshot", "cause", cause, "error", err.Error())
		return
	}
}
