package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
)

// defaultPublisher is where the CLI finds the publisher unless told.
const defaultPublisher = "http://127.0.0.1:9900"

// clientFlags are the flags every command that talks to the publisher has.
type clientFlags struct {
	publisher, data string
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.publisher, "publisher", "", "publisher URL (default $SLUICE_PUBLISHER, then "+defaultPublisher+")")
	cmd.Flags().StringVar(&f.data, "data", ".sluice", "the publisher's data dir, to read its token unless $SLUICE_TOKEN is set")
}

// client resolves the publisher URL and token: flag, environment, defaults.
func (f *clientFlags) client() (*fleetclient.Client, error) {
	url := f.publisher
	if url == "" {
		url = os.Getenv("SLUICE_PUBLISHER")
	}
	if url == "" {
		url = defaultPublisher
	}
	token := os.Getenv("SLUICE_TOKEN")
	if token == "" {
		var err error
		if token, err = fleet.LoadToken(f.data); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no API token: set $SLUICE_TOKEN or pass --data DIR of the publisher (%s not found)", filepath.Join(f.data, fleet.TokenFile))
			}
			return nil, fmt.Errorf("API token: %w", err)
		}
	}
	who := os.Getenv("USER")
	if u, err := user.Current(); err == nil && who == "" {
		who = u.Username
	}
	return &fleetclient.Client{URL: url, Token: token, Author: who}, nil
}
