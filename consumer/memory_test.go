package consumer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// The memory test: 1 MB messages on 24 partitions, consumed by a separate
// process (this test binary again, in the role memoryRoleEnv names) so the
// broker's copy of the messages is not counted.
const (
	memoryRoleEnv       = "BLOCKD_CONSUMER_MEMORY_TEST_BROKERS"
	memoryPartitions    = 24
	memoryPerPartition  = 20
	memoryMessageBytes  = 1_000_000
	memoryMaxInFlight   = 8
	memoryLimitMiB      = 200 // the stated bound on the peak heap in use and peak RSS; see README "Memory"
	memorySampleEvery   = 2 * time.Millisecond
	memoryQuiet         = time.Second
	memoryResultsPrefix = "memory-result "
)

// TestMemoryIsBoundedWithLargeMessages consumes 480 messages of 1 MB over
// 24 partitions with MaxInFlight 8, a 1 MiB message limit and a handler that
// holds every message until nothing more is fetched, and checks the consuming process's peak heap in use (sampled
// every 2ms) and, without the race detector (which maps memory of its own),
// its peak RSS (VmHWM) stay under memoryLimitMiB: what it holds is bounded
// by its limits, not by what the broker has. Before the bound it held what
// its readers prefetched: 264 to 365 MiB of heap here.
func TestMemoryIsBoundedWithLargeMessages(t *testing.T) {
	if brokers := os.Getenv(memoryRoleEnv); brokers != "" {
		consumeForMemoryTest(t, strings.Split(brokers, ","))
		return
	}
	if testing.Short() {
		t.Skip("produces 480 MB; run without -short")
	}
	brokers := newBroker(t, memoryPartitions)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: testTopic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		BatchBytes: 1 << 20, // one message per batch: the broker's default limit
		Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
			n, _ := strconv.Atoi(string(m.Key))
			return partitions[n%len(partitions)]
		})}
	defer w.Close()
	value := make([]byte, memoryMessageBytes)
	msgs := make([]kafka.Message, memoryPartitions*memoryPerPartition)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(strconv.Itoa(i)), Value: value}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
	t.Logf("produced %d messages in %s", len(msgs), time.Since(start))
	start = time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryIsBoundedWithLargeMessages$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memoryRoleEnv+"="+strings.Join(brokers, ","))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the consuming process failed: %v\n%s", err, out)
	}
	t.Logf("consumed them in %s", time.Since(start))
	var peakHeap, vmHWM int64 = -1, -1
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), memoryResultsPrefix); ok {
			if _, err := fmt.Sscanf(line, "peakHeapInuse=%d vmHWM=%d", &peakHeap, &vmHWM); err != nil {
				t.Fatalf("reading %q: %v", line, err)
			}
		}
	}
	if peakHeap < 0 {
		t.Fatalf("the consuming process reported no result:\n%s", out)
	}
	t.Logf("consuming %d messages of %d bytes over %d partitions: peak heap in use %d MiB, VmHWM %d MiB (race detector: %v)",
		memoryPartitions*memoryPerPartition, memoryMessageBytes, memoryPartitions, peakHeap>>20, vmHWM>>20, raceDetector)
	if peakHeap > memoryLimitMiB<<20 {
		t.Errorf("peak heap in use: got %d MiB, want at most %d MiB", peakHeap>>20, memoryLimitMiB)
	}
	if !raceDetector && vmHWM > memoryLimitMiB<<20 {
		t.Errorf("peak RSS (VmHWM): got %d MiB, want at most %d MiB", vmHWM>>20, memoryLimitMiB)
	}
}

// consumeForMemoryTest is the consuming process. Its handler holds every
// message until the heap has stopped growing for memoryQuiet (the consumer
// fetches nothing more: its bounds, or the topic's end, are reached), then
// handles them all; it prints the peak heap in use and peak RSS.
func consumeForMemoryTest(t *testing.T, brokers []string) {
	open := make(chan struct{})
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		var high uint64
		lastGrowth := time.Now()
		opened := false
		for {
			runtime.ReadMemStats(&ms)
			peak.Store(max(peak.Load(), int64(ms.HeapInuse)))
			if ms.HeapAlloc > high+1<<20 {
				high, lastGrowth = ms.HeapAlloc, time.Now()
			}
			if !opened && time.Since(lastGrowth) > memoryQuiet {
				close(open)
				opened = true
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(memorySampleEvery):
			}
		}
	}()
	var handled atomic.Int32
	all := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, m kafka.Message) error {
		<-open
		if handled.Add(1) == memoryPartitions*memoryPerPartition {
			close(all)
		}
		return nil
	})
	c, err := New(Config{Brokers: brokers, GroupID: "memory", Topics: []string{testTopic}, MaxInFlight: memoryMaxInFlight,
		MessageBytes: 1 << 20, MaxWait: 50 * time.Millisecond}, h, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		t.Fatalf("handled %d of %d messages in 5 minutes", handled.Load(), memoryPartitions*memoryPerPartition)
	}
	close(stopSampling)
	<-sampled
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%speakHeapInuse=%d vmHWM=%d\n", memoryResultsPrefix, peak.Load(), vmHWM())
}

// vmHWM is the process's peak resident set size, from /proc/self/status,
// or -1 where there is none.
func vmHWM() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
