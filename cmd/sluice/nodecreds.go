package main

import (
	"errors"
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/fleet"
)

func newNodeCredsCmd() *cobra.Command {
	var (
		cf       clientFlags
		out      string
		announce []string
	)
	cmd := &cobra.Command{
		Use:   "node-creds NODE-ID [-o FILE] [--announce SERVICE]...",
		Short: "Write a node's own NATS credentials, signed by the publisher (needs an admin token)",
		Long: "Makes the node's key here and has the publisher sign a user JWT for it: the node may read the config\n" +
			"and artifacts, write only its own status, publish only its own decisions, and announce only the\n" +
			"services named with --announce. The seed never leaves this machine. Start the node with\n" +
			"sluice edge --nats-creds FILE (its node ID comes from the file).",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("node-creds: one NODE-ID is required")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !fleet.ValidNodeID(id) {
				return fmt.Errorf("node-creds: node id %q: letters, digits, _ - and inner dots", id)
			}
			if out == "" {
				out = id + ".creds"
			}
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("node-creds: %w", err)
			}
			kp, err := nkeys.CreateUser()
			if err != nil {
				return fmt.Errorf("node-creds: %w", err)
			}
			pub, _ := kp.PublicKey()
			signed, err := c.NodeCreds(cmd.Context(), id, pub, announce)
			if err != nil {
				return fmt.Errorf("node-creds: %w", err)
			}
			// The publisher's answer is checked, not trusted: the JWT must be
			// for this key and this node.
			claims, err := jwt.DecodeUserClaims(signed.JWT)
			if err != nil || claims.Subject != pub || claims.Name != id {
				return fmt.Errorf("node-creds: the publisher answered a JWT not for node %q's key (%v)", id, err)
			}
			seed, _ := kp.Seed()
			data, err := jwt.FormatUserConfig(signed.JWT, seed)
			if err != nil {
				return fmt.Errorf("node-creds: %w", err)
			}
			if err := fleet.WriteAtomic(out, data); err != nil { // mode 0600
				return fmt.Errorf("node-creds: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: NATS credentials for node %s (sluice edge --nats-creds %s)\n", out, id, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default NODE-ID.creds); mode 0600")
	cmd.Flags().StringSliceVar(&announce, "announce", nil, "a service this node may announce instances of (sluice announce); repeatable")
	cf.add(cmd)
	return cmd
}
