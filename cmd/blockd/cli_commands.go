package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"text/tabwriter"
	"time"

	"github.com/blockd/blockd/schemas"
)

// runStatus prints what the service stores about one command.
func runStatus(ctx context.Context, c *adminClient, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	trackID, err := oneTrackID("status", pos)
	if err != nil {
		return err
	}
	body, err := c.call(ctx, http.MethodGet, commandPath(trackID), nil)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOut(stdout, body)
	}
	var d schemas.CommandDetail
	if err := json.Unmarshal(body, &d); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	printDetail(stdout, d)
	return nil
}

// printDetail prints a command for people: its fields, a table of its
// calls, its result event.
func printDetail(w io.Writer, d schemas.CommandDetail) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("trackId", d.TrackID)
	row("type", d.Kind)
	row("provider", d.Provider)
	row("state", string(d.State))
	row("attempts", strconv.Itoa(d.Attempts))
	row("received", stamp(&d.ReceivedAt))
	if d.CompletedAt != nil {
		row("completed", stamp(d.CompletedAt))
	}
	if d.InDoubtReason != "" {
		row("in doubt", d.InDoubtReason+" (since "+stamp(d.InDoubtSince)+")")
	}
	if d.NeedsReconciliation {
		row("reconcile", "NEEDED: "+d.ReconcileReason)
	}
	if v := d.Verdict; v != nil {
		row("verdict", fmt.Sprintf("%s, by %s at %s: %s", v.Verdict, v.By, stamp(&v.At), v.Reason))
	}
	if d.EventID != "" {
		row("eventId", d.EventID)
	}
	_ = tw.Flush() // w is stdout: a failed write shows itself
	fmt.Fprintln(w)
	if len(d.Calls) == 0 {
		fmt.Fprintln(w, "no provider call")
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ATTEMPT\tPROVIDER TRACKID\tSTATE\tERROR\tHTTP\tSTARTED\tFINISHED\tLATE\tEVIDENCE")
		for _, c := range d.Calls {
			httpStatus := ""
			if c.HTTPStatus != 0 {
				httpStatus = strconv.Itoa(c.HTTPStatus)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Attempt, c.ProviderTrackID, c.State, dash(c.ErrorCode), dash(httpStatus),
				stamp(&c.StartedAt), stamp(c.FinishedAt), dash(c.LateState), dash(c.Evidence))
		}
		_ = tw.Flush()
	}
	if len(d.Result) > 0 {
		fmt.Fprintln(w, "\nresult event ("+d.ResultTopic+"):")
		var buf bytes.Buffer
		if json.Indent(&buf, d.Result, "  ", "  ") == nil {
			fmt.Fprintln(w, "  "+buf.String())
		} else {
			fmt.Fprintln(w, "  "+string(d.Result))
		}
	}
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// listPaths are the lists `blockd list` shows, and their endpoints.
var listPaths = map[string]string{"in-doubt": "/v1/commands/in-doubt", "reconcile": "/v1/commands/reconcile", "set-aside": "/v1/outbox/set-aside"}

// runList prints one of the lists that wait for an operator.
func runList(ctx context.Context, c *adminClient, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || listPaths[pos[0]] == "" {
		return usageError{"blockd list takes one of: in-doubt, reconcile, set-aside"}
	}
	body, err := c.call(ctx, http.MethodGet, listPaths[pos[0]], nil)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOut(stdout, body)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if pos[0] == "set-aside" {
		var l struct {
			Rows []schemas.SetAsideRow `json:"rows"`
		}
		if err := json.Unmarshal(body, &l); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		fmt.Fprintln(tw, "ID\tTOPIC\tKEY\tBYTES\tSET ASIDE\tHELD BACK\tREASON")
		for _, r := range l.Rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\n", r.ID, r.Topic, r.Key, r.Bytes, stamp(&r.SetAsideAt), r.HeldBack, r.Reason)
		}
		fmt.Fprintf(tw, "(%d rows)\n", len(l.Rows))
		return tw.Flush()
	}
	var l struct {
		Commands []schemas.InDoubtCommand `json:"commands"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	fmt.Fprintln(tw, "TRACKID\tTYPE\tPROVIDER\tATTEMPTS\tLAST PROVIDER TRACKID\tRECEIVED\tUPDATED\tREASON")
	for _, r := range l.Commands {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.TrackID, r.Kind, r.Provider, r.Attempts, dash(r.LastProviderCall),
			stamp(&r.ReceivedAt), stamp(&r.UpdatedAt), r.Reason)
	}
	fmt.Fprintf(tw, "(%d commands)\n", len(l.Commands))
	return tw.Flush()
}

// runResolve sends an operator's verdict on one command.
func runResolve(ctx context.Context, c *adminClient, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	applied := fs.Bool("applied", false, "the provider's statement shows the command applied")
	notApplied := fs.Bool("not-applied", false, "the provider's statement shows the command not applied")
	reason := fs.String("reason", "", "why: what was checked (required)")
	by := fs.String("by", getenv("USER"), "who gives the verdict (default $USER)")
	codeSlot := fs.Int("code-slot", 0, "with --applied on a card block: the slot (1 or 2) the platform shows its code in")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	trackID, err := oneTrackID("resolve", pos)
	if err != nil {
		return err
	}
	v := schemas.OperatorVerdict{Reason: *reason, By: *by, CodeSlot: *codeSlot}
	switch {
	case *applied == *notApplied:
		return usageError{"blockd resolve takes exactly one of --applied and --not-applied"}
	case *applied:
		v.Verdict = schemas.VerdictApplied
	default:
		v.Verdict = schemas.VerdictNotApplied
	}
	if err := v.Validate(); err != nil {
		return usageError{"blockd resolve: " + err.Error() + " (--reason, --by, --code-slot)"}
	}
	body, err := c.call(ctx, http.MethodPost, commandPath(trackID, "/resolve"), v)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOut(stdout, body)
	}
	var out struct {
		Repeated bool                  `json:"repeated"`
		Command  schemas.CommandDetail `json:"command"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	if out.Repeated {
		fmt.Fprintf(stdout, "%s was already resolved %s; nothing changed\n\n", trackID, v.Verdict)
	} else {
		fmt.Fprintf(stdout, "%s resolved %s\n\n", trackID, v.Verdict)
	}
	printDetail(stdout, out.Command)
	return nil
}

// runReplay queues a command's stored result for publishing again.
func runReplay(ctx context.Context, c *adminClient, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	trackID, err := oneTrackID("replay", pos)
	if err != nil {
		return err
	}
	body, err := c.call(ctx, http.MethodPost, commandPath(trackID, "/replay"), nil)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOut(stdout, body)
	}
	var out struct {
		EventID string `json:"eventId"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	fmt.Fprintf(stdout, "%s: its result (eventId %s) is queued for publishing again\n", trackID, out.EventID)
	return nil
}

// writeOut writes an answer as it came (already redacted by the service),
// ending in a newline.
func writeOut(w io.Writer, body []byte) error {
	body = bytes.TrimRight(body, "\n")
	if _, err := w.Write(append(body, '\n')); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}
