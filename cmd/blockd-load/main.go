// Command blockd-load offers blockd a load and measures what it gives
// back: it publishes N commands (built from schemas/examples) to a running
// blockd, matches the results read from the results topic by trackId, and
// reports throughput, publish→result latency, missing and duplicated
// results, refusals, results by status, and what the service cost: the
// blockd process's CPU and peak RSS and PostgreSQL's CPU, per command. Its
// last line is the summary (`load: n=… published=… results=… missing=…`).
//
// It is a development tool: it never ships in the service binary, which
// imports none of it.
//
// Usage:
//
//	go run ./cmd/blockd-load [flags]    (go run ./cmd/blockd-load -h lists them)
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
