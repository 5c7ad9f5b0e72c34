// Command blockd-chaos is blockd's fault-injection proof run. It drives the
// real blockd binary on this machine — the local PostgreSQL, a separate
// kfake broker process (`blockd broker`), several `blockd serve` processes
// in one consumer group and the three provider sandboxes with fault
// injection, including the ambiguous answers (late delivery, applied then
// timed out or "not responding", a lagging status inquiry, nested
// failures) — publishes realistic command chains while it SIGKILLs blockd
// processes, SIGSTOPs one with calls in flight for longer than its lease,
// restarts every instance in turn with SIGTERM, restarts PostgreSQL and the
// broker, and then proves the exactly-once promise with numbers: every
// command has one terminal result, no result contradicts another, and
// every effect in the sandboxes' ledgers belongs to exactly one command,
// to the rial. It mixes hostile messages into the traffic (-hostile-rate:
// NUL strings and headers, bad traceparents, empty values, sensitive values
// in bad fields, reused trackIds, messages over the limit) and proves that
// each got its answer (a dead letter, a refusal under refused:<trackId>),
// that no key stayed stuck behind one and that no sensitive value shows in
// an answer or a log. It also counts the commands answered OUTCOME_UNKNOWN
// and those the database flags for reconciliation. Its last line is the
// summary; it exits non-zero when a promise was broken.
//
// It runs the blockd binary named by -blockd or, without it, builds
// github.com/blockd/blockd/cmd/blockd into its run directory with the go
// command (so run it from within the blockd module). Restarting PostgreSQL
// (-pg-restarts, once by default) calls pg_ctlcluster and needs root; give
// -pg-restarts 0 otherwise. It drops and creates its own database
// (-database-url) on the local server.
//
// It is a development tool: it never ships in the service binary, which
// imports none of it.
//
// Usage:
//
//	go run ./cmd/blockd-chaos [flags]    (go run ./cmd/blockd-chaos -h lists them)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := runChaos(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, errPromiseBroken):
		// The summary, already printed, must stay the last line.
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "blockd-chaos:", err)
		os.Exit(1)
	}
}
