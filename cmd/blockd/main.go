// Command blockd takes block and unblock commands for money and accounts
// from Kafka, carries each out exactly once in effect at the provider it
// names, and publishes the outcome as a result event keyed by trackId.
//
// It runs in one of two modes, chosen explicitly:
//
//	blockd dev       everything on this machine, for development: the
//	                 embedded Kafka-protocol broker, the provider sandboxes
//	                 (simulators) and the local PostgreSQL, its database
//	                 created if missing
//	blockd serve     production: never starts an embedded part; refuses to
//	                 start unless the brokers, the database, the providers it
//	                 serves and their URLs and credentials are configured
//	blockd broker    run only the embedded development broker (kfake)
//	blockd sandbox   run only the provider sandboxes (simulators)
//
// Configuration is BLOCKD_* environment variables; see README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/blockd/blockd/cmd/blockd/redact"
)

const usage = `usage: blockd <command>

commands:
  dev       run everything on this machine, for development: the embedded
            Kafka-protocol broker, the provider sandboxes (simulators) and the
            local PostgreSQL, its database created if missing
  serve     run in production: never starts an embedded part; requires
            BLOCKD_KAFKA_BROKERS, BLOCKD_DATABASE_URL, BLOCKD_PROVIDERS and each
            listed provider's URL and credentials
  broker    run only the embedded development broker (kfake)
  sandbox   run only the provider sandboxes (simulators), for development
  health [URL]
            a probe for container healthchecks: asks URL (default: this
            instance's /readyz on BLOCKD_HTTP_ADDR) and exits 0 on a 2xx
            answer within 3 s, 1 otherwise
  help      print this text

operator commands (clients of a running service's operator endpoints at
BLOCKD_ADMIN_URL, default http://127.0.0.1:8081, with the token of
BLOCKD_ADMIN_TOKEN_FILE; BLOCKD_ADMIN_CA_FILE trusts a private CA for https):
  status <trackId>              the command: state, attempts, each provider
                                call and its outcome, the result
  list in-doubt|reconcile|set-aside
                                what waits for an operator
  resolve <trackId> --applied|--not-applied --reason "..." [--by name] [--code-slot 1|2]
                                an operator's verdict after checking the
                                provider's statement (--by defaults to $USER;
                                --code-slot: with --applied on a card block,
                                the slot its code is in; --not-applied waits
                                until no call can land any more)
  replay <trackId>              publish the stored result again (same eventId)
  dlq replay [--dry-run] [--from-offset N | --since 2006-01-02T15:04:05Z]
             [--include-old] [--include-refused]
                                re-submit dead letters to their source topics
                                (Kafka settings as blockd serve's); skips
                                those older than BLOCKD_RETENTION and those
                                that may have been answered with a refusal
                                unless included
  each takes --json for scripts

exit codes: 0 ok; 1 failure (network, server error, token refused);
            2 usage; 3 refused (the command's state does not allow it);
            4 not found

Configuration: BLOCKD_* environment variables (README.md, deploy/blockd.env.example).
`

// usageError is a command line blockd does not understand; the process
// exits 2 after printing the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// defaultGOGC is the garbage collector's target, unless the GOGC variable
// sets another: at 4,000 commands/s on two cores, Go's default (100) spent
// a fifth of blockd's CPU collecting; 150 gave 13% more commands/s for a
// peak RSS of 130-142 MB instead of 115-119 MB (README, Throughput).
const defaultGOGC = 150

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		// The same redaction as every log line: an error may quote a value.
		fmt.Fprintln(os.Stderr, "blockd:", redact.String(err.Error()))
		os.Exit(exitCode(err))
	}
}

// run is blockd's whole life; main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, usage)
		return usageError{"no command: choose dev or serve"}
	}
	cmd := args[0]
	switch cmd {
	case "help", "-h", "--help":
		io.WriteString(stdout, usage)
		return nil
	case "health":
		return runHealth(ctx, args[1:], getenv, stdout)
	case "dev", "serve", "broker", "sandbox":
	default:
		if operatorCommands[cmd] {
			return runOperatorCommand(ctx, cmd, args[1:], getenv, stdout, stderr)
		}
		io.WriteString(stderr, usage)
		return usageError{"unknown command " + cmd}
	}
	if len(args) > 1 {
		io.WriteString(stderr, usage)
		return usageError{fmt.Sprintf("blockd %s takes no arguments (configuration is BLOCKD_* environment variables)", cmd)}
	}
	load := loadConfig
	if cmd == "serve" {
		load = loadServeConfig
	}
	cfg, err := load(getenv, os.ReadFile)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "broker":
		return runBroker(ctx, cfg, log)
	case "sandbox":
		return runSandboxes(ctx, cfg, log)
	default:
		return serve(ctx, cfg, log, serveOptions{})
	}
}
