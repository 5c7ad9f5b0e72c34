package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCountsFieldsFromTheLastParenthesis(t *testing.T) {
	// comm "a) (b c" holds spaces and parentheses.
	line := "1234 (a) (b c) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 130 40 12 20 0 8 0 5000 100000 300 18446744073709551615\n"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "a) (b c" || st.ppid != 77 || st.cpu != 380 || st.childCPU != 52 {
		t.Errorf("parseStat = %+v, want comm %q ppid 77 cpu 380 childCPU 52", st, "a) (b c")
	}
	if _, err := parseStat("1234 (x) S 1 2"); err == nil {
		t.Error("a short stat line was read")
	}
}

func TestParseStatusKB(t *testing.T) {
	status := []byte("Name:\tblockd\nVmHWM:\t  130048 kB\nVmRSS:\t  120000 kB\nThreads:\t12\n")
	if v, err := parseStatusKB(status, "VmRSS"); err != nil || v != 120000 {
		t.Errorf("VmRSS = %d, %v, want 120000", v, err)
	}
	if v, err := parseStatusKB(status, "VmHWM"); err != nil || v != 130048 {
		t.Errorf("VmHWM = %d, %v, want 130048", v, err)
	}
	if _, err := parseStatusKB(status, "VmSwap"); err == nil {
		t.Error("a missing field was read")
	}
	if _, err := parseStatusKB(status, "Threads"); err == nil {
		t.Error("a field without kB was read")
	}
}

func TestPostgresDeltaCountsBackendsThatCameAndWent(t *testing.T) {
	// Postmaster 1; backend 2 lives through the run (10 → 25 ticks);
	// backend 3 ends during it, having 40 ticks at the start and 55 when
	// it ends (reaped into the postmaster's cutime: 100 → 155); backend 4
	// starts during it (7 ticks). The postmaster itself goes 5 → 6.
	start := postgresCPU{procs: map[int]uint64{1: 5, 2: 10, 3: 40}, postmaster: map[int]uint64{1: 100}}
	end := postgresCPU{procs: map[int]uint64{1: 6, 2: 25, 4: 7}, postmaster: map[int]uint64{1: 155}}
	// 1 + 15 + (55 - 40) + 7
	if got := postgresDelta(start, end); got != 38 {
		t.Errorf("postgresDelta = %d, want 38", got)
	}
	// A postmaster that restarted (new pid) is not followed; never negative.
	restarted := postgresCPU{procs: map[int]uint64{9: 1}, postmaster: map[int]uint64{9: 0}}
	if got := postgresDelta(start, restarted); got != 0 {
		t.Errorf("postgresDelta after a restart = %d, want 0", got)
	}
}

func TestCostMonitorMeasuresAProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	m := startCostMonitor(os.Getpid(), false, 10*time.Millisecond)
	burn := 0
	for i := range 50_000_000 {
		burn += i % 7
	}
	r := m.finish(10)
	if !r.BlockdMeasured || r.BlockdPID != os.Getpid() || r.RSSPeakMB <= 0 || r.BlockdCPUMs <= 0 || r.HWMMB < r.RSSPeakMB || burn == 0 {
		t.Errorf("cost of this process: %+v", r)
	}
	if r.PGMeasured {
		t.Error("PostgreSQL measured with pg false")
	}
}
