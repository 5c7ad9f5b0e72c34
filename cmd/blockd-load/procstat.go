package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, 100 on
// every Linux architecture Go runs on (the kernel's ABI, whatever its HZ).
const userHZ = 100

// procRoot is where the proc file system is.
const procRoot = "/proc"

// procStat is what the load reads of /proc/<pid>/stat.
type procStat struct {
	comm string
	ppid int
	// utime+stime of the process, and cutime+cstime of its children it
	// waited for, in clock ticks.
	cpu, childCPU uint64
}

// parseStat reads the fields of a /proc/<pid>/stat line. comm may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("no (comm) in the stat line")
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(line[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("the stat line has %d fields after comm, want at least 15", len(f))
	}
	var v [5]uint64
	for i, field := range []int{1, 11, 12, 13, 14} {
		n, err := strconv.ParseUint(f[field], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat field %d: %w", field+3, err)
		}
		v[i] = n
	}
	return procStat{comm: line[open+1 : end], ppid: int(v[0]), cpu: v[1] + v[2], childCPU: v[3] + v[4]}, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("reading the stat of pid %d: %w", pid, err)
	}
	return parseStat(string(b))
}

// statusKB is a "<field>: <n> kB" line of /proc/<pid>/status, in kB.
func statusKB(pid int, field string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("reading the status of pid %d: %w", pid, err)
	}
	return parseStatusKB(b, field)
}

func parseStatusKB(status []byte, field string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: %q is not '<n> kB'", field, rest)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s line", field)
}

// processesNamed returns the stat of every process whose comm is name
// (processes that end while the list is read are left out).
func processesNamed(name string) (map[int]procStat, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	out := make(map[int]procStat)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.comm != name {
			continue
		}
		out[pid] = st
	}
	return out, nil
}

// findBlockd is the one process whose comm is blockd (what `go run
// ./cmd/blockd dev` and the built binary run as).
func findBlockd() (int, error) {
	procs, err := processesNamed("blockd")
	if err != nil {
		return 0, err
	}
	switch len(procs) {
	case 0:
		return 0, errors.New("no process named blockd is running: give -pid")
	case 1:
		for pid := range procs {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("%d processes are named blockd: give -pid", len(procs))
}

// postgresCPU is the CPU ticks of a PostgreSQL server at one moment: the
// sum of utime+stime over every process named postgres, and each
// postmaster's (a postgres whose parent is not one) cutime+cstime: the
// backends it reaped.
type postgresCPU struct {
	procs      map[int]uint64
	postmaster map[int]uint64
}

func readPostgresCPU() (postgresCPU, error) {
	procs, err := processesNamed("postgres")
	if err != nil {
		return postgresCPU{}, err
	}
	p := postgresCPU{procs: make(map[int]uint64), postmaster: make(map[int]uint64)}
	for pid, st := range procs {
		p.procs[pid] = st.cpu
		if _, child := procs[st.ppid]; !child {
			p.postmaster[pid] = st.childCPU
		}
	}
	return p, nil
}

// postgresDelta is the CPU ticks PostgreSQL used between start and end:
// every process's ticks at the end less every process's at the start, plus
// what each postmaster's reaped children gained. A backend that lived
// through the run counts its delta; one that started during it all of
// its ticks; one that ended during it its ticks after start, through its
// postmaster (which then counts the whole life of the backend, less what
// the start had of it). A postmaster that restarted is not followed.
func postgresDelta(start, end postgresCPU) uint64 {
	var total int64
	for _, v := range end.procs {
		total += int64(v)
	}
	for _, v := range start.procs {
		total -= int64(v)
	}
	for pid, v := range end.postmaster {
		if s, ok := start.postmaster[pid]; ok {
			total += int64(v) - int64(s)
		}
	}
	return uint64(max(total, 0))
}

// costReport is what the service cost during the run.
type costReport struct {
	BlockdPID int `json:"blockd_pid,omitempty"`
	// BlockdCPUMs: utime+stime of the blockd process during the run.
	BlockdCPUMs       float64 `json:"blockd_cpu_ms"`
	BlockdCPUMsPerCmd float64 `json:"blockd_cpu_ms_per_cmd"`
	// RSSPeakMB: the largest VmRSS sampled every 200 ms; HWMMB: VmHWM at
	// the end (the process's peak since it started).
	RSSPeakMB float64 `json:"rss_peak_mb"`
	HWMMB     float64 `json:"vm_hwm_mb"`
	// PGCPUMs: CPU of every process named postgres during the run (the
	// whole server: other clients' work included; see postgresDelta).
	PGCPUMs       float64 `json:"pg_cpu_ms"`
	PGCPUMsPerCmd float64 `json:"pg_cpu_ms_per_cmd"`
	// LoadCPUMsPerCmd: this command's own CPU per command.
	LoadCPUMs       float64 `json:"load_cpu_ms"`
	LoadCPUMsPerCmd float64 `json:"load_cpu_ms_per_cmd"`
	// Notes say what could not be measured, and why.
	Notes []string `json:"notes,omitempty"`
	// BlockdMeasured and PGMeasured say which parts were measured.
	BlockdMeasured bool `json:"blockd_measured"`
	PGMeasured     bool `json:"pg_measured"`
}

// costMonitor measures blockd's and PostgreSQL's CPU and blockd's RSS
// over a run.
type costMonitor struct {
	pid                    int // 0: no blockd measured
	pg                     bool
	notes                  []string
	blockdStart, loadStart procStat
	pgStart                postgresCPU
	stop                   context.CancelFunc
	done                   chan struct{}

	mu      sync.Mutex
	peakRSS uint64 // kB
}

// startCostMonitor takes the start readings and samples blockd's VmRSS
// every interval until finish. pid 0 finds the process named blockd; a
// negative pid measures no blockd.
func startCostMonitor(pid int, pg bool, interval time.Duration) *costMonitor {
	m := &costMonitor{pg: pg, done: make(chan struct{})}
	if pid == 0 {
		found, err := findBlockd()
		if err != nil {
			m.notes = append(m.notes, "blockd not measured: "+err.Error())
		}
		pid = found
	}
	if pid > 0 {
		st, err := readStat(pid)
		if err != nil {
			m.notes = append(m.notes, "blockd not measured: "+err.Error())
		} else {
			m.pid, m.blockdStart = pid, st
		}
	}
	if st, err := readStat(os.Getpid()); err == nil {
		m.loadStart = st
	}
	if pg {
		p, err := readPostgresCPU()
		switch {
		case err != nil:
			m.notes = append(m.notes, "PostgreSQL not measured: "+err.Error())
			m.pg = false
		case len(p.procs) == 0:
			m.notes = append(m.notes, "PostgreSQL not measured: no process named postgres")
			m.pg = false
		default:
			m.pgStart = p
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go m.sample(ctx, interval)
	return m
}

func (m *costMonitor) sample(ctx context.Context, interval time.Duration) {
	defer close(m.done)
	if m.pid == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if kb, err := statusKB(m.pid, "VmRSS"); err == nil {
			m.mu.Lock()
			m.peakRSS = max(m.peakRSS, kb)
			m.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// finish stops sampling, takes the end readings and reports the cost per
// command of commands.
func (m *costMonitor) finish(commands int) *costReport {
	m.stop()
	<-m.done
	r := &costReport{Notes: m.notes}
	perCmd := func(v float64) float64 {
		if commands == 0 {
			return 0
		}
		return math2(v / float64(commands))
	}
	tickMs := func(ticks uint64) float64 { return float64(ticks) * 1000 / userHZ }
	if m.pid > 0 {
		end, err := readStat(m.pid)
		if err != nil {
			r.Notes = append(r.Notes, "blockd CPU not measured: "+err.Error())
		} else {
			r.BlockdMeasured = true
			r.BlockdPID = m.pid
			r.BlockdCPUMs = tickMs(end.cpu - min(end.cpu, m.blockdStart.cpu))
			r.BlockdCPUMsPerCmd = perCmd(r.BlockdCPUMs)
			m.mu.Lock()
			r.RSSPeakMB = math2(float64(m.peakRSS) / 1024)
			m.mu.Unlock()
			if hwm, err := statusKB(m.pid, "VmHWM"); err == nil {
				r.HWMMB = math2(float64(hwm) / 1024)
			}
		}
	}
	if m.pg {
		end, err := readPostgresCPU()
		if err != nil {
			r.Notes = append(r.Notes, "PostgreSQL CPU not measured: "+err.Error())
		} else {
			r.PGMeasured = true
			r.PGCPUMs = tickMs(postgresDelta(m.pgStart, end))
			r.PGCPUMsPerCmd = perCmd(r.PGCPUMs)
		}
	}
	if end, err := readStat(os.Getpid()); err == nil && m.loadStart.comm != "" {
		r.LoadCPUMs = tickMs(end.cpu - min(end.cpu, m.loadStart.cpu))
		r.LoadCPUMsPerCmd = perCmd(r.LoadCPUMs)
	}
	return r
}

// math2 rounds to two decimals.
func math2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
