package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/blockd/blockd/schemas"
)

// standIn is a tiny stand-in for blockd: it reads the block topic and
// answers each command on the results topic, by the command's number:
//
//	3:           nothing (missing)
//	5:           only a refusal under refused:<trackId> (missing too)
//	7, 17, ...:  its result twice, with the same eventId (a redelivery)
//	9:           two results with different eventIds (conflicting)
//	11:          FAILED PROVIDER_REJECTED
//	others:      DONE
//
// and once, a result of another run's trackId.
func standIn(ctx context.Context, t *testing.T, addr string, partitions int) *sync.WaitGroup {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "blockd.results", Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	var wg sync.WaitGroup
	var once sync.Once
	for part := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "blockd.cmd.block", Partition: part, MaxWait: 50 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				c, err := v.DecodeCommand(schemas.KindBlock, m.Value)
				if err != nil {
					t.Errorf("the load published an invalid block: %v", err)
					continue
				}
				i, err := strconv.Atoi(c.TrackID[strings.LastIndexByte(c.TrackID, '-')+1:])
				if err != nil {
					t.Errorf("trackId %q has no number", c.TrackID)
					continue
				}
				result := func(key, eventID, status, code, ceType string) kafka.Message {
					body := map[string]any{"eventId": eventID, "trackId": c.TrackID, "type": "block", "provider": string(c.Provider), "status": status}
					if code != "" {
						body["error"] = map[string]any{"code": code, "message": "stand-in", "retryable": false}
					}
					b, _ := json.Marshal(body)
					return kafka.Message{Key: []byte(key), Value: b, Headers: []kafka.Header{{Key: "ce_type", Value: []byte(ceType)}}}
				}
				ev := "ev-" + c.TrackID
				var out []kafka.Message
				switch {
				case i == 3:
				case i == 5:
					out = append(out, result(refusalKeyPrefix+c.TrackID, "ref-"+c.TrackID, "REJECTED", "TRACK_ID_CONFLICT", "dev.blockd.refusal.block"))
				case i%10 == 7:
					out = append(out, result(c.TrackID, ev, "DONE", "", "dev.blockd.result.block"), result(c.TrackID, ev, "DONE", "", "dev.blockd.result.block"))
				case i == 9:
					out = append(out, result(c.TrackID, ev, "DONE", "", "dev.blockd.result.block"), result(c.TrackID, ev+"-2", "DONE", "", "dev.blockd.result.block"))
				case i == 11:
					out = append(out, result(c.TrackID, ev, "FAILED", "PROVIDER_REJECTED", "dev.blockd.result.block"))
				default:
					out = append(out, result(c.TrackID, ev, "DONE", "", "dev.blockd.result.block"))
				}
				once.Do(func() {
					other := result("other-1", "ev-other", "DONE", "", "dev.blockd.result.block")
					other.Value = bytes.Replace(other.Value, []byte(c.TrackID), []byte("other-1"), 1)
					out = append(out, other)
				})
				if len(out) > 0 {
					if err := w.WriteMessages(ctx, out...); err != nil && ctx.Err() == nil {
						t.Errorf("the stand-in could not write results: %v", err)
					}
				}
			}
		}()
	}
	return &wg
}

func TestLoadAgainstAStandIn(t *testing.T) {
	const partitions = 3
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0),
		kfake.SeedTopics(partitions, "blockd.cmd.block", "blockd.cmd.unblock", "blockd.cmd.inquiry", "blockd.results"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]

	// A result of the run's first trackId already on the topic: read from
	// the start, it would make t1-0 a conflicting duplicate.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stale := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "blockd.results", RequiredAcks: kafka.RequireAll}
	if err := stale.WriteMessages(ctx, kafka.Message{Key: []byte("t1-0"), Value: []byte(`{"eventId":"old","trackId":"t1-0","status":"DONE"}`)}); err != nil {
		t.Fatal(err)
	}
	stale.Close()

	respond, stop := context.WithCancel(ctx)
	wg := standIn(respond, t, addr, partitions)
	defer func() {
		stop()
		wg.Wait()
	}()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-brokers", addr, "-n", "40", "-keys", "7", "-run-id", "t1", "-timeout", "2s", "-settle", "500ms",
		"-progress", "100ms", "-pid", strconv.Itoa(os.Getpid()), "-pg=false", "-json"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d with results missing, want 1; stderr:\n%s", code, &stderr)
	}
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, &stdout)
	}
	got := fmt.Sprintf("n=%d published=%d results=%d missing=%d duplicates=%d duplicate_events=%d conflicting=%d refusals=%d publish_failed=%d foreign=%d",
		s.N, s.Published, s.Results, s.Missing, s.Duplicates, s.DuplicateEvents, s.Conflicting, s.Refusals, s.PublishFailed, s.Foreign)
	// Duplicates: 7, 17, 27, 37 and 9.
	want := "n=40 published=40 results=38 missing=2 duplicates=5 duplicate_events=5 conflicting=1 refusals=1 publish_failed=0 foreign=1"
	if got != want {
		t.Errorf("counts:\n got %s\nwant %s\nstderr:\n%s", got, want, &stderr)
	}
	if s.ByStatus["DONE"] != 37 || s.ByStatus["FAILED PROVIDER_REJECTED"] != 1 || s.RefusalsByCode["TRACK_ID_CONFLICT"] != 1 {
		t.Errorf("by status %v, refusals %v", s.ByStatus, s.RefusalsByCode)
	}
	if strings.Join(s.MissingExamples, " ") != "t1-3 t1-5" {
		t.Errorf("missing examples %v, want t1-3 t1-5", s.MissingExamples)
	}
	if s.Latency.Max <= 0 || s.Latency.P50 > s.Latency.P99 || s.Throughput <= 0 {
		t.Errorf("latency %+v throughput %v", s.Latency, s.Throughput)
	}
	if s.Cost == nil || !s.Cost.BlockdMeasured || s.Cost.RSSPeakMB <= 0 || s.Cost.PGMeasured {
		t.Errorf("cost %+v, want this process measured as blockd and no PostgreSQL", s.Cost)
	}
	if !strings.Contains(stderr.String(), "load: ") || !strings.Contains(stderr.String(), "published=") {
		t.Errorf("no progress line on stderr:\n%s", &stderr)
	}

	// The same run's commands answered in full: the summary line, exit 0.
	stdout.Reset()
	stderr.Reset()
	code = run(ctx, []string{"-brokers", addr, "-n", "3", "-keys", "2", "-run-id", "t2", "-timeout", "10s", "-settle", "0",
		"-progress", "0", "-pid", "-1", "-pg=false"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	if code != 0 || !strings.HasPrefix(last, "load: n=3 published=3 results=3 missing=0 duplicates=0 conflicting=0 refusals=0 publish_failed=0 throughput=") ||
		!strings.HasSuffix(last, "blockd_cpu_ms_per_cmd=n/a pg_cpu_ms_per_cmd=n/a rss_peak_mb=n/a") {
		t.Errorf("exit %d, last line %q; stdout:\n%s\nstderr:\n%s", code, last, &stdout, &stderr)
	}
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"}, {"-keys", "0"}, {"-rate", "-1"}, {"-provider", "bank"}, {"-run-id", "has space"},
		{"-run-id", strings.Repeat("r", 38), "-n", "100"}, {"-operation", "facility", "-provider", "card"}, {"extra"},
	} {
		var stdout, stderr bytes.Buffer
		// No broker listens on port 1: a check that passes would fail later
		// with exit code 1, not 2.
		code := run(context.Background(), append([]string{"-brokers", "127.0.0.1:1"}, args...), &stdout, &stderr)
		if code != 2 {
			t.Errorf("%v: exit code %d, want 2; stderr: %s", args, code, &stderr)
		}
	}
}
