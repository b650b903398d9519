package appsim

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// request is what the scheduler knows of a held request frame.
type request struct {
	key     int16
	version int16
	corr    int32
	// commit is set for EndTxn: true for a commit, false for an abort.
	commit bool
}

// kind is the request's name in fault names and traces: the protocol sites
// use it ("end-txn-commit", "produce", ...).
func (r request) kind() string {
	switch r.key {
	case 26:
		if r.commit {
			return "end-txn-commit"
		}
		return "end-txn-abort"
	}
	if name, ok := requestKinds[r.key]; ok {
		return name
	}
	return kmsg.NameForKey(r.key)
}

// requestKinds names the request kinds protocol-site crash points aim at.
var requestKinds = map[int16]string{
	0:  "produce",
	8:  "offset-commit",
	11: "join-group",
	12: "heartbeat",
	14: "sync-group",
	22: "init-producer-id",
	24: "add-partitions-to-txn",
	25: "add-offsets-to-txn",
	28: "txn-offset-commit",
}

// parseRequest reads a request frame's header (and EndTxn's Commit field).
// A frame too short to parse is kind -1: it is still released.
func parseRequest(frame []byte) request {
	if len(frame) < 12 {
		return request{key: -1}
	}
	r := request{
		key:     int16(binary.BigEndian.Uint16(frame[4:])),
		version: int16(binary.BigEndian.Uint16(frame[6:])),
		corr:    int32(binary.BigEndian.Uint32(frame[8:])),
	}
	if r.key == 26 {
		r.commit = endTxnCommits(frame[12:], r.version)
	}
	return r
}

// endTxnCommits decodes an EndTxn body after the client id (and, for a
// flexible version, the header's tagged fields).
func endTxnCommits(rest []byte, version int16) bool {
	req := kmsg.NewPtrEndTxnRequest()
	return readBody(rest, version, req) && req.Commit
}

// readBody decodes a request body after the client id (and, for a
// flexible version, the header's tagged fields) into req.
func readBody(rest []byte, version int16, req kmsg.Request) bool {
	if len(rest) < 2 {
		return false
	}
	idLen := int(int16(binary.BigEndian.Uint16(rest)))
	rest = rest[2:]
	if idLen > 0 {
		if idLen > len(rest) {
			return false
		}
		rest = rest[idLen:]
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		var ok bool
		if rest, ok = skipTags(rest); !ok {
			return false
		}
	}
	return req.ReadFrom(rest) == nil
}

func skipTags(b []byte) ([]byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, false
	}
	b = b[w:]
	for range n {
		_, w := binary.Uvarint(b) // tag
		if w <= 0 {
			return nil, false
		}
		b = b[w:]
		size, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < size {
			return nil, false
		}
		b = b[w+int(size):]
	}
	return b, true
}
