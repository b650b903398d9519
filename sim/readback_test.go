package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/model"
)

// The aborted-read check reads the transaction markers itself: records of a
// producer before its ABORT marker are aborted, before COMMIT committed,
// without a marker still open; markers of one partition never decide
// another's.
func TestAbortedRecords(t *testing.T) {
	rec := func(p int32, off int64, pid int64) logRecord {
		return logRecord{OutputRecord: model.OutputRecord{Partition: p, Offset: off}, producerID: pid, transactional: true}
	}
	marker := func(p int32, off int64, pid int64, typ byte) logRecord {
		return logRecord{OutputRecord: model.OutputRecord{Partition: p, Offset: off, Key: string([]byte{0, 0, 0, typ})}, producerID: pid, transactional: true, control: true}
	}
	log := []logRecord{
		rec(0, 0, 7), rec(0, 1, 8), rec(0, 2, 7),
		marker(0, 3, 7, 0), // abort producer 7: offsets 0 and 2
		marker(0, 4, 8, 1), // commit producer 8: offset 1
		rec(0, 5, 7),       // producer 7 again, no marker: open
		rec(1, 0, 9), marker(1, 1, 9, 0),
		{OutputRecord: model.OutputRecord{Partition: 1, Offset: 2}}, // not transactional
	}
	require.Equal(t, map[[2]int64]bool{{0, 0}: true, {0, 2}: true, {1, 0}: true}, abortedRecords(log))
}
