package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
)

// TestExitCodeRejected: a configuration a service's checker rejected ends
// apply and the post hook with exit 1 (a check failed), not 2, however
// the hook wraps it.
func TestExitCodeRejected(t *testing.T) {
	err := fmt.Errorf("validate: %w", errors.Join(&hook.RejectedError{Service: "postfix-mailcow", Patch: "typo", Files: []string{"data/conf/postfix/extra.cf"}}))
	if got := exitCode(err); got != exitFailed {
		t.Errorf("exit %d, want %d", got, exitFailed)
	}
}
