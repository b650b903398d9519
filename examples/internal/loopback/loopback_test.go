package loopback

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/app"
)

func TestMismatchFindsLossDuplicatesAndStrangers(t *testing.T) {
	upper := app.Spec{Transform: func(in app.Record) []app.Record {
		return []app.Record{{Key: in.Key, Value: bytes.ToUpper(in.Value)}}
	}}
	in := []app.Record{{Key: []byte("k"), Value: []byte("a")}, {Key: []byte("k"), Value: []byte("b"), Offset: 1}}
	rec := func(v string) app.Record { return app.Record{Key: []byte("k"), Value: []byte(v)} }
	tests := []struct {
		name string
		out  []app.Record
		want string
	}{
		{"exactly once", []app.Record{rec("B"), rec("A")}, ""},
		{"lost", []app.Record{rec("A")}, `"k"="B": want 1, got 0`},
		{"duplicate", []app.Record{rec("A"), rec("B"), rec("A")}, `"k"="A": want 1, got 2`},
		{"unexpected", []app.Record{rec("A"), rec("B"), rec("c")}, `"k"="c": unexpected`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Mismatch(upper, Result{Input: in, Output: tc.out})
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tc.want)
		})
	}
}
