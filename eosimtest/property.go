package eosimtest

import (
	"reflect"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
)

// Case is one generated scenario: a seed and the faults it runs.
type Case struct {
	Seed   uint64
	Faults []faults.Op
}

// GenCase generates cases for a: a seed and 0..3 faults drawn from
// enabled, with hits inside what prof (a fault-free run) reached. gopter
// shrinks the fault list.
func GenCase(enabled []string, prof appsim.Profile) gopter.Gen {
	names := make([]any, 0, len(enabled))
	for _, n := range enabled {
		if spanOf(n, prof) > 0 {
			names = append(names, n)
		}
	}
	op := gen.Const(faults.Op{})
	if len(names) > 0 {
		op = gen.OneConstOf(names...).FlatMap(func(v any) gopter.Gen {
			name := v.(string)
			return gopter.CombineGens(gen.IntRange(1, spanOf(name, prof)), gen.IntRange(0, 2000)).Map(func(v []any) faults.Op {
				return faults.Op{Fault: name, Hit: v[0].(int), RestartDelayMS: v[1].(int)}
			})
		}, reflect.TypeOf(faults.Op{}))
	}
	ops := gen.IntRange(0, 3).FlatMap(func(v any) gopter.Gen {
		if len(names) == 0 {
			return gen.Const([]faults.Op{})
		}
		return gen.SliceOfN(v.(int), op).Map(func(o []faults.Op) []faults.Op { return o })
	}, reflect.TypeOf([]faults.Op{}))
	return gopter.CombineGens(gen.UInt64(), ops).Map(func(v []any) Case {
		return Case{Seed: v[0].(uint64), Faults: v[1].([]faults.Op)}
	})
}

// spanOf bounds a fault's hit by what the profile saw.
func spanOf(name string, prof appsim.Profile) int {
	for site, n := range prof.Sites {
		if name == faults.SiteFault(site) {
			return n
		}
	}
	for _, k := range faults.ProtocolKinds {
		if name == faults.CrashBefore(k) || name == faults.CrashAfter(k) {
			return prof.Kinds[k]
		}
	}
	return prof.Requests
}

// Property returns the gopter property "every generated case of a is
// clean" (inconclusive runs count as failures unless opts allow them).
// Use it with gopter.NewProperties(...).Property(name, p).
func Property(t *testing.T, a app.App, opts Options) gopter.Prop {
	opts = opts.withDefaults()
	enabled, err := appsim.ResolveFaults(a, opts.Faults)
	if err != nil {
		t.Fatalf("eosim: %v", err)
	}
	prof := appsim.ProfileOf(t, a, appsim.Options{Seed: opts.Seed, Records: opts.Records})
	return prop.ForAll(func(c Case) bool {
		plan := faults.Plan{Faults: c.Faults}
		res := appsim.Run(t, a, appsim.Options{Seed: c.Seed, Records: opts.Records, Plan: &plan})
		if res.Verdict != appsim.Clean {
			t.Logf("eosim: app %s seed %d plan %v: %s %s", a.Name, c.Seed, c.Faults, res.Verdict, firstLine(res.Inconclusive))
		}
		return res.Verdict == appsim.Clean || res.Verdict == appsim.Inconclusive && opts.AllowInconclusive && !res.BadInput
	}, GenCase(enabled, prof))
}
