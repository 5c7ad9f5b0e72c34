package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
)

// The exit codes of the operator commands (status, list, resolve, replay,
// dlq replay); README "The operator CLI" and `blockd help` list them.
const (
	exitOK       = 0
	exitFailure  = 1 // network, server error, a refused token
	exitUsage    = 2 // a command line blockd does not understand
	exitRefused  = 3 // the command's state does not allow it
	exitNotFound = 4 // no command under that trackId
)

// cliError ends an operator command with its exit code.
type cliError struct {
	code int
	msg  string
}

func (e cliError) Error() string { return e.msg }

// ExitCode is the process's exit code for e.
func (e cliError) ExitCode() int { return e.code }

// operatorCommands are the subcommands that are clients of a running
// service's operator endpoints (and dlq replay, a client of Kafka).
var operatorCommands = map[string]bool{"status": true, "list": true, "resolve": true, "replay": true, "dlq": true}

// runOperatorCommand runs one operator subcommand.
func runOperatorCommand(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch cmd {
	case "dlq":
		if len(args) == 0 || args[0] != "replay" {
			return usageError{"blockd dlq takes one subcommand: replay"}
		}
		return runDLQReplay(ctx, args[1:], getenv, stdout, stderr)
	}
	client, err := newAdminClient(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "status":
		return runStatus(ctx, client, args, stdout)
	case "list":
		return runList(ctx, client, args, stdout)
	case "resolve":
		return runResolve(ctx, client, args, getenv, stdout)
	default:
		return runReplay(ctx, client, args, stdout)
	}
}

// parseArgs parses fs's flags wherever they stand among args (before or
// after the positional arguments) and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{fmt.Sprintf("blockd %s: %v", fs.Name(), err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// trackIDPattern is the trackId rule of the command schemas.
var trackIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// oneTrackID checks that exactly one trackId was given, and that it is one.
func oneTrackID(name string, positional []string) (string, error) {
	if len(positional) != 1 {
		return "", usageError{fmt.Sprintf("blockd %s takes one trackId", name)}
	}
	if !trackIDPattern.MatchString(positional[0]) {
		return "", usageError{"a trackId is 1-40 letters, digits, '-' or '_'"}
	}
	return positional[0], nil
}

// exitCode is the process exit code for what run returned.
func exitCode(err error) int {
	var ue usageError
	var ce cliError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return ce.code
	default:
		return exitFailure
	}
}
