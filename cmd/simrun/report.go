package main

import (
	"fmt"
	"os"
	"time"

	"github.com/eosim/eosim/reports"
	"github.com/eosim/eosim/sim"
)

// reportEvery is how often a campaign with --report rewrites its report
// while it runs, so that even a killed campaign leaves the runs it finished.
const reportEvery = 10 * time.Second

// campaignReport accumulates a campaign's runs for --report DIR.
type campaignReport struct {
	dir       string
	jobs      int
	flags     scenarioFlags
	b         *reports.Builder
	lastWrite time.Duration
}

func newCampaignReport(cfg campaignConfig, opts sim.Options) *campaignReport {
	ro := reports.Options{
		Protocols: []string{cfg.flags.protocol}, BaseSeed: cfg.flags.seed, Runs: cfg.runs,
		Faults: cfg.flags.faults, FaultNames: opts.Faults, Workload: cfg.flags.workload,
		Shard: reports.Shard{Count: cfg.shards, Indexes: []int{cfg.shardIndex + 1}},
	}
	return &campaignReport{dir: cfg.report, jobs: cfg.jobs, flags: cfg.flags,
		b: reports.NewBuilder("campaign", ro, reports.BuildVersions(cfg.commit), reports.Limits{})}
}

// add records a finished run; elapsed is the campaign's wall time so far.
func (r *campaignReport) add(k int, res sim.Result, elapsed time.Duration) {
	r.b.Add(reports.Run{Index: k, Result: res, Replay: r.flags.replayCommand(res.Seed)})
	if elapsed-r.lastWrite >= reportEvery {
		r.lastWrite = elapsed
		// A report of a campaign still running: its status says so
		// (inconclusive, fewer runs done than planned). Errors show at the
		// final write.
		_ = reports.Write(r.dir, r.b.Report(false, r.execution(elapsed)))
	}
}

func (r *campaignReport) write(interrupted bool, wall time.Duration) error {
	return reports.Write(r.dir, r.b.Report(interrupted, r.execution(wall)))
}

func (r *campaignReport) execution(wall time.Duration) reports.Execution {
	return reports.Execution{Jobs: r.jobs, Shards: 1, WallMS: wall.Milliseconds(),
		ScenariosPerSecond: runsPerSecond(r.b.Runs(), wall)}
}

// checkReportDir makes sure --report names a directory we can write.
func checkReportDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usagef("--report: %v", err)
	}
	f, err := os.CreateTemp(dir, ".simrun-check-*")
	if err != nil {
		return usagef("--report: %v", err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func reportNote(dir string) string {
	if dir == "" {
		return ""
	}
	return fmt.Sprintf("; report of the finished runs in %s", dir)
}
