package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluicegw/sluice/runtime/edge"
)

// serveFromFile runs node on the config at path until SIGTERM or SIGINT:
// load it (a bad file stops here), open the listeners, reload on SIGHUP and
// on file changes, serve, and drain on the way out. ready runs once the
// listeners are open.
func serveFromFile(ctx context.Context, node *edge.Node, log *slog.Logger, path string,
	open func() (edge.Listeners, error), ready func(edge.Listeners)) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	src := &edge.FileSource{Path: path, Node: node, Reload: hup}
	if err := src.Load(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ls, err := open()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := src.Watch(ctx); err != nil {
		// Reloading on SIGHUP still works; only file-change reloads are lost.
		log.Error("config file watch unavailable", "error", err)
	}
	ready(ls)
	return node.Run(ctx, ls)
}
