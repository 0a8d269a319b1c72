package main

import (
	"context"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
)

const ackHelp = `Acknowledge customizations an update lost: the admin accepts the loss,
and mcupdate verify stops failing on them. ID is the id verify, the post
hook and the pre hook print next to the file (an id, a unique prefix of at
least 4 characters, or FILE:ID). A customization whose lines are put back
needs no acknowledgement: verify sees them. With --dry-run, say what would
be acknowledged and write nothing.`

func runAckCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("ack")
	ids, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	d := a.state()
	l, err := ledger.Load(d)
	if err != nil {
		return &configError{err}
	}
	if len(ids) == 0 {
		open := l.Open()
		if len(open) == 0 {
			return usagef("ack needs the id of a lost customization, and the ledger has none")
		}
		var names []string
		for _, e := range open {
			names = append(names, e.ID+" ("+e.File+")")
		}
		return usagef("ack needs the id of a lost customization: %s", strings.Join(names, ", "))
	}
	if !a.g.dryRun {
		lock, err := d.Lock("mcupdate ack")
		if err != nil {
			return err
		}
		defer func() { _ = lock.Release() }()
		// Read again under the lock: a hook may have written it meanwhile.
		if l, err = ledger.Load(d); err != nil {
			return &configError{err}
		}
	}
	acked, err := l.Ack(ids, time.Now().UTC())
	if err != nil {
		return usagef("%v", err)
	}
	verb := "acknowledged"
	if a.g.dryRun {
		verb = "would acknowledge"
	} else if err := l.Save(d, a.system()); err != nil {
		return err
	}
	for _, e := range acked {
		where := e.File
		if e.Where != "" {
			where += " (" + e.Where + ")"
		}
		a.ui.Printf("%s %s %s", verb, e.ID, where)
	}
	return nil
}
