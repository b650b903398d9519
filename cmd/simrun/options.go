package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// scenarioFlags are the flags every command that runs scenarios shares.
type scenarioFlags struct {
	protocol string
	seed     uint64
	faults   string
	workload faults.Workload
}

func (f *scenarioFlags) register(fs *flag.FlagSet) {
	d := faults.DefaultWorkload()
	fs.StringVar(&f.protocol, "protocol", "", "protocol to run (see 'simrun list protocols'); required")
	fs.Uint64Var(&f.seed, "seed", 1, "root seed")
	fs.StringVar(&f.faults, "faults", "all", "comma-separated fault names (see 'simrun list faults') or groups: "+strings.Join(faults.Groups, ", "))
	fs.IntVar(&f.workload.Partitions, "partitions", d.Partitions, "input (and output) partitions")
	fs.IntVar(&f.workload.Parallelism, "parallelism", 0, "job parallelism, 1..partitions+4 (above partitions: idle source subtasks); 0 draws 1..min(4, partitions) per run from its seed, in 1 run in 8 partitions+1 or +2")
	fs.IntVar(&f.workload.OutputPartitions, "output-partitions", 0, "output topic partitions, 1..64; 0 draws per run from its seed (as many as the input in 3 runs in 4)")
	fs.IntVar(&f.workload.Records, "records", d.Records, fmt.Sprintf("input records, 1..%d", faults.MaxRecords))
	fs.IntVar(&f.workload.KeysPerPartition, "keys", d.KeysPerPartition, "keys per input partition")
	fs.IntVar(&f.workload.CheckpointIntervalMS, "interval", d.CheckpointIntervalMS,
		fmt.Sprintf("checkpoint interval in virtual milliseconds, 1..%d (half the sink's transaction timeout)", faults.MaxCheckpointIntervalMS))
	fs.StringVar(&f.workload.StartupMode, "startup-mode", "", "where the source starts on the job's first start: "+strings.Join(faults.StartupModes, ", ")+"; empty draws per run from its seed (group-offsets in half the runs)")
	fs.Func("startup-offsets", "specific-offsets: comma-separated start offsets by input partition (-1: unset, the earliest)", func(v string) error {
		offsets, err := parseOffsets(v)
		f.workload.StartupOffsets = offsets
		return err
	})
	fs.IntVar(&f.workload.StartupTimestampMS, "startup-timestamp", 0, "timestamp: start at each partition's first record numbered at or above this (record i is stamped i ms after the input epoch)")
	fs.IntVar(&f.workload.LateRecords, "late", -1, "of --records, how many arrive while the job runs (the last partition starts empty); -1: a fifth of --records")
	fs.IntVar(&f.workload.AbortedInput, "aborted-input", -1, "more input records the harness writes in transactions it aborts, among the records there before the job starts (a read_committed source skips them), 0..--records; -1: an eighth of --records; 0: none")
	fs.IntVar(&f.workload.MaxConcurrentCheckpoints, "max-concurrent-checkpoints", 0,
		fmt.Sprintf("checkpoints in flight at once, 1..%d (Flink's setMaxConcurrentCheckpoints); 0 draws it per run from its seed (1 most often, 2-3 sometimes)", faults.MaxConcurrentCheckpoints))
	fs.IntVar(&f.workload.ProducerPoolSize, "producer-pool-size", 0,
		fmt.Sprintf("transactional ids per sink subtask of two-phase-commit-pooled-ids, 1..%d (kafkaProducersPoolSize); 0 draws one the run's concurrent checkpoints cannot exhaust", faults.MaxProducerPoolSize))
	fs.StringVar(&f.workload.Topology, "topology", "", "how sources feed sinks: empty for keyBy (every source feeds every sink), or forward (source i feeds sink i only: failover regions); a drawn region-failover runs forward")
	fs.StringVar(&f.workload.RequestVersions, "request-versions", "", "Kafka request versions of the job's clients: kip-890 (default: Produce v12+, EndTxn v5+) or pre-kip-890 (pinned below KIP-890 part 2); a protocol that pins its own wins")
}

// workloadFlags maps a workload field's JSON name to the flag that sets it.
var workloadFlags = map[string]string{
	"partitions": "partitions", "parallelism": "parallelism", "records": "records",
	"keys_per_partition": "keys", "checkpoint_interval_ms": "interval", "late_records": "late", "aborted_input": "aborted-input",
	"output_partitions":          "output-partitions",
	"max_concurrent_checkpoints": "max-concurrent-checkpoints", "producer_pool_size": "producer-pool-size",
	"startup_mode": "startup-mode", "startup_offsets": "startup-offsets", "startup_timestamp_ms": "startup-timestamp",
}

// parseOffsets parses "19,-1,22".
func parseOffsets(v string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want comma-separated offsets, got %s", faults.Quote(f))
		}
		out = append(out, n)
	}
	return out, nil
}

// planFixes are the flags whose values a --plan file replaces.
var planFixes = []string{"faults", "partitions", "parallelism", "records", "keys", "interval", "late", "aborted-input", "output-partitions", "max-concurrent-checkpoints", "producer-pool-size", "topology", "request-versions",
	"startup-mode", "startup-offsets", "startup-timestamp"}

// options validates the flags into scenario options. A workload value out
// of range is reported by the flag that set it ("--interval must be ...").
func (f *scenarioFlags) options() (sim.Options, error) {
	if f.protocol == "" {
		return sim.Options{}, usagef("--protocol is required (see 'simrun list protocols')")
	}
	if _, err := engine.ProtocolByName(f.protocol); err != nil {
		return sim.Options{}, usagef("unknown protocol %s (see 'simrun list protocols')", faults.Quote(f.protocol))
	}
	if f.workload.LateRecords < 0 {
		f.workload.LateRecords = f.workload.Records / 5
	}
	if f.workload.AbortedInput < 0 {
		f.workload.AbortedInput = faults.DefaultAbortedInput(f.workload.Records)
	}
	if v := f.workload.RequestVersions; v != "" && v != faults.RequestVersionsKIP890 && v != faults.RequestVersionsPreKIP890 {
		return sim.Options{}, usagef("--request-versions must be %s or %s, got %s", faults.RequestVersionsKIP890, faults.RequestVersionsPreKIP890, faults.Quote(v))
	}
	check := f.workload
	if check.Parallelism == 0 {
		check.Parallelism = 1 // drawn per run
	}
	if err := check.Validate(); err != nil {
		var fe *faults.FieldError
		if errors.As(err, &fe) && workloadFlags[fe.Field] != "" {
			return sim.Options{}, usagef("--%s %s", workloadFlags[fe.Field], fe.Message())
		}
		return sim.Options{}, usagef("%v", err)
	}
	enabled, err := faults.Resolve(f.faults)
	if err != nil {
		return sim.Options{}, usagef("%v", err)
	}
	return sim.Options{Protocol: f.protocol, Seed: f.seed, Workload: f.workload, Faults: enabled}, nil
}

// optionsWithPlan is options, with a --plan file (if path is set)
// supplying the workload and faults, and the protocol and seed unless the
// command line gave them. Flags the plan would override are a usage error
// that names them: a plan is replayed as it is (edit the plan instead).
func (f *scenarioFlags) optionsWithPlan(fs *flag.FlagSet, path string) (sim.Options, error) {
	var plan *faults.Plan
	if path != "" {
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		var clash []string
		for _, name := range planFixes {
			if given[name] {
				clash = append(clash, "--"+name)
			}
		}
		if len(clash) > 0 {
			return sim.Options{}, usagef("--plan fixes the workload and faults: drop %s (or edit the plan)", strings.Join(clash, ", "))
		}
		p, err := faults.ReadPlan(path)
		if err != nil {
			return sim.Options{}, usagef("%v", err)
		}
		plan = &p
		if !given["protocol"] {
			f.protocol = p.Protocol
		}
		if !given["seed"] {
			f.seed = p.Seed
		}
		f.workload = p.Workload
	}
	opts, err := f.options()
	if err != nil {
		return sim.Options{}, err
	}
	if plan != nil {
		plan.Workload = f.workload
		opts.Plan = plan
	}
	return opts, nil
}

// replayCommand is the one command that replays a scenario.
func (f *scenarioFlags) replayCommand(seed uint64) string {
	w := f.workload
	cmd := fmt.Sprintf("go run ./cmd/simrun replay --protocol %s --seed %d --faults %s --partitions %d --parallelism %d --records %d --late %d --keys %d --interval %d",
		f.protocol, seed, f.faults, w.Partitions, w.Parallelism, w.Records, w.LateRecords, w.KeysPerPartition, w.CheckpointIntervalMS)
	if w.AbortedInput != faults.DefaultAbortedInput(w.Records) {
		cmd += fmt.Sprintf(" --aborted-input %d", w.AbortedInput)
	}
	if w.OutputPartitions != 0 {
		cmd += fmt.Sprintf(" --output-partitions %d", w.OutputPartitions)
	}
	if w.Topology != "" {
		cmd += " --topology " + w.Topology
	}
	if w.RequestVersions != "" {
		cmd += " --request-versions " + w.RequestVersions
	}
	if w.StartupMode != "" {
		cmd += " --startup-mode " + w.StartupMode
	}
	if len(w.StartupOffsets) > 0 {
		offsets := make([]string, len(w.StartupOffsets))
		for i, off := range w.StartupOffsets {
			offsets[i] = strconv.FormatInt(off, 10)
		}
		cmd += " --startup-offsets " + strings.Join(offsets, ",")
	}
	if w.StartupTimestampMS != 0 {
		cmd += fmt.Sprintf(" --startup-timestamp %d", w.StartupTimestampMS)
	}
	return cmd
}

// parseFlags parses args with fs, turning flag errors into one-line usage
// errors; -h prints the flags and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: simrun %s [flags]\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usagef("%s: %s", fs.Name(), faults.Clip(err.Error(), 160))
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %s", fs.Name(), faults.Quote(fs.Arg(0)))
	}
	return nil
}

// parseShard parses "i/n" (1-based): this process runs runs k with
// k % n == i-1. "k8s/n" takes i from a Kubernetes Indexed Job: the 0-based
// JOB_COMPLETION_INDEX that getenv returns, plus one.
func parseShard(s string, getenv func(string) string) (int, int, error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	n, err2 := strconv.Atoi(b)
	if ok && a == "k8s" {
		if err2 != nil || n < 1 {
			return 0, 0, usagef("--shard %s: want k8s/n with n >= 1", faults.Quote(s))
		}
		env := getenv(jobIndexEnv)
		idx, err := strconv.Atoi(env)
		if env == "" || err != nil || idx < 0 || idx >= n {
			return 0, 0, usagef("--shard %s: %s must be 0..%d (set by a Kubernetes Indexed Job with completions %d), got %s",
				faults.Quote(s), jobIndexEnv, n-1, n, faults.Quote(env))
		}
		return idx, n, nil
	}
	i, err1 := strconv.Atoi(a)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, usagef("--shard %s: want i/n with 1 <= i <= n, or k8s/n", faults.Quote(s))
	}
	return i - 1, n, nil
}

// jobIndexEnv is the variable a Kubernetes Indexed Job sets in each pod.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

// projectCommit names the code that ran, for replay instructions.
func projectCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value[:min(12, len(s.Value))]
			}
		}
	}
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
