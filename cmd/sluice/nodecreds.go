package main

import (
	"fmt"
	"time"

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
		expires  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "node-creds NODE-ID [-o FILE] [--announce SERVICE]... [--expires DURATION] | revoke NODE-ID",
		Short: "Write a node's own NATS credentials, signed by the publisher (needs an admin token)",
		Long: "Makes the node's key here and has the publisher sign a user JWT for it: the node may read the config\n" +
			"and artifacts, write only its own status, publish only its own decisions, and announce only the\n" +
			"services named with --announce. The seed never leaves this machine. Start the node with\n" +
			"sluice edge --nats-creds FILE (its node ID comes from the file). Without --expires they never\n" +
			"expire; sluice node-creds revoke cuts a node off (a node cannot be named \"revoke\").",
		Args: oneArg("node-creds", "NODE-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !fleet.ValidNodeID(id) {
				return fmt.Errorf("node-creds: node id %q: letters, digits, _ - and inner dots", id)
			}
			if err := fleet.CheckNodeCredsExpiry(expires); err != nil {
				return fmt.Errorf("node-creds: --%w", err)
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
			signed, err := c.NodeCreds(cmd.Context(), id, pub, announce, expires)
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
			until := "never expire"
			if claims.Expires != 0 {
				until = "expire " + time.Unix(claims.Expires, 0).UTC().Format(time.RFC3339)
			}
			// The key is what `revoke --key` names after a rotation.
			fmt.Fprintf(cmd.OutOrStdout(), "%s: NATS credentials for node %s, key %s; they %s (sluice edge --nats-creds %s)\n", out, id, pub, until, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default NODE-ID.creds); mode 0600")
	cmd.Flags().StringSliceVar(&announce, "announce", nil, "a service this node may announce instances of (sluice announce); repeatable")
	cmd.Flags().DurationVar(&expires, "expires", 0, "how long the credentials are good for (720h); 0: they never expire")
	cf.add(cmd)
	cmd.AddCommand(newNodeRevokeCmd())
	return cmd
}

func newNodeRevokeCmd() *cobra.Command {
	var (
		cf  clientFlags
		key string
	)
	cmd := &cobra.Command{
		Use:   "revoke NODE-ID [--key U...]",
		Short: "Revoke a node's NATS credentials: every key signed for it, or the one named (needs an admin token)",
		Long: "The publisher adds the node's user keys to its NATS account's revocations, kept in its data dir.\n" +
			"The servers it is connected to (the embedded one, or an external cluster that includes\n" +
			"nats-auth.conf) close the node's connections and refuse it from then on; reload an external\n" +
			"cluster with the rewritten nats-auth.conf so a restarted server keeps refusing it. Credentials\n" +
			"signed for the node afterwards (a new key) work.",
		Args: oneArg("node-creds revoke", "NODE-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !fleet.ValidNodeID(id) {
				return fmt.Errorf("node-creds revoke: node id %q: letters, digits, _ - and inner dots", id)
			}
			if key != "" && !nkeys.IsValidPublicUserKey(key) {
				return fmt.Errorf("node-creds revoke: --key %q: not a NATS user public key (U...)", key)
			}
			c, err := cf.client()
			if err != nil {
				return fmt.Errorf("node-creds revoke: %w", err)
			}
			rev, err := c.RevokeNode(cmd.Context(), id, key)
			if err != nil {
				return fmt.Errorf("node-creds revoke: %w", err)
			}
			for _, k := range rev.Keys {
				state := "revoked " + k.Revoked.Format(time.RFC3339)
				if k.Revoked.IsZero() {
					state = "still valid"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\tissued %s\n", k.Key, state, k.Issued.Format(time.RFC3339))
			}
			if !rev.Pushed {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the NATS servers were not told (%s): the node is refused once they load nats-auth.conf from the publisher's data dir\n", rev.PushError)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "revoke only this user public key (U...) of the node, e.g. the old one after a rotation")
	cf.add(cmd)
	return cmd
}
