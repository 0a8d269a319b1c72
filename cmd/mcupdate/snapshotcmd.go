package main

import "context"

func runSnapshotCmd(ctx context.Context, a *app, args []string) error { return usagef("not yet") }
