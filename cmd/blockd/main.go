// Command blockd takes block and unblock commands for money and accounts
// from Kafka, carries each out exactly once in effect at the provider it
// names, and publishes the outcome as a result event keyed by trackId.
//
// With no configuration it runs everything it needs on this machine (an
// embedded Kafka-protocol broker and the provider sandboxes, both for
// development only) against the local PostgreSQL. See README.md.
//
// Usage:
//
//	blockd           run the service
//	blockd broker    run only the embedded development broker (kfake)
//	blockd sandbox   run only the provider sandboxes (simulators)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "blockd:", err)
		os.Exit(1)
	}
}

// run is blockd's whole life; main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(getenv, os.ReadFile)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, serveOptions{})
	case "broker":
		return runBroker(ctx, cfg, log)
	case "sandbox":
		return runSandboxes(ctx, cfg, log)
	case "help", "-h", "--help":
		fmt.Fprintln(stderr, "usage: blockd [serve|broker|sandbox]   (configuration: BLOCKD_* environment variables, see README.md)")
		return nil
	default:
		return errors.New("unknown command " + cmd + " (want serve, broker or sandbox)")
	}
}
