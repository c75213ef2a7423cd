package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// BenchmarkPairAgent measures what the pair agent costs per request: the
// mesh stack with the agent on, a steady load from three callers for 60 s,
// the agent's CPU time (utime+stime from /proc) and its peak RSS (VmHWM).
// Reported per 1,000 requests/s sustained: CPU in cores, and the RSS.
//
//	go test ./tests/e2e -run '^$' -bench PairAgent -benchtime 1x -v
func BenchmarkPairAgent(b *testing.B) {
	for range b.N {
		ch := chtest.StartWith(b, chtest.Options{DataDir: b.TempDir()})
		stack, err := meshstack.Start(meshstack.StackOptions{
			Dir: b.TempDir(), ClickHouseAddr: ch.Addr, ScrapeInterval: 15 * time.Second, Callers: pairCallers,
		})
		if err != nil {
			b.Fatal(err)
		}
		var targets []meshstack.Target
		for source := range pairCallers {
			for _, tg := range stack.Targets {
				tg.Source = source
				tg.Label = source + " " + tg.Label
				targets = append(targets, tg)
			}
		}
		const perTargetRPS, run = 70, 60 * time.Second // 3 callers × 5 services × 70 = 1,050/s asked
		cpu0 := procCPU(b, stack.Agent.PID())
		truth := meshstack.NewTruth()
		ctx, cancel := context.WithTimeout(context.Background(), run)
		start := time.Now()
		meshstack.Steady(ctx, targets, perTargetRPS, truth)
		cancel()
		elapsed := time.Since(start)
		time.Sleep(3 * time.Second) // the agent reads the last lines
		cpu := procCPU(b, stack.Agent.PID()) - cpu0
		hwm := procHWM(b, stack.Agent.PID())
		sent := 0
		for _, tg := range targets {
			sent += truth.Total(tg.Label)
		}
		rps := float64(sent) / elapsed.Seconds()
		cores := cpu.Seconds() / elapsed.Seconds()
		b.ReportMetric(rps, "req/s")
		b.ReportMetric(cores/rps*1000, "cores-per-1000rps")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
		b.Logf("%d requests in %v (%.0f/s): agent CPU %v (%.3f cores, %.3f per 1,000 req/s), peak RSS %.0f MB",
			sent, elapsed.Round(time.Millisecond), rps, cpu.Round(time.Millisecond), cores, cores/rps*1000, float64(hwm)/(1<<20))
		if err := stack.Close(); err != nil {
			b.Error(err)
		}
	}
}

// procCPU is a process's user+system CPU time (/proc/<pid>/stat, in clock
// ticks of 1/100 s on Linux).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// procHWM is a process's peak resident set (VmHWM), in bytes.
func procHWM(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
