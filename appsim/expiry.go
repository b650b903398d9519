package appsim

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Member expiry: a broker fact kfake misses. kfake arms a classic group
// member's session timer when it answers the member's JoinGroup or
// SyncGroup; when the answer cannot be delivered (the process was killed
// while its JoinGroup waited for the rebalance), no timer is armed and the
// member stays in the group for good, holding the partitions the leader
// assigned it: they are never consumed again, and the run reports their
// records lost (copier seed 14554247995067541401, kill-instance while a
// JoinGroup waited: partition 0 went to the dead member and nothing moved
// it in three virtual minutes). Apache Kafka removes such a member within
// the rebalance timeout after the join (pending sync) or its session
// timeout. So when a process is killed after it sent a JoinGroup with its
// member id, the harness asks the coordinator to remove that member once
// Kafka would surely have: session timeout + twice the rebalance timeout
// after the kill. The LeaveGroup is a no-op (UNKNOWN_MEMBER_ID) where
// kfake expired the member itself. Static members (group.instance.id) are
// left alone: their successor takes their place by instance id.

// expireDeadMembers turns the expiry on; tests turn it off to show what
// kfake alone does.
var expireDeadMembers = true

// groupMember is a classic group member as its last JoinGroup named it.
type groupMember struct {
	group, member      string
	session, rebalance time.Duration
}

// expiry is a member to remove at a logical time.
type expiry struct {
	at   time.Duration
	proc string
	groupMember
}

// noteJoin records the member a released JoinGroup frame names.
func (s *scenario) noteJoin(p *process, frame []byte, version int16) {
	if len(frame) < 12 {
		return
	}
	req := kmsg.NewPtrJoinGroupRequest()
	if !readBody(frame[12:], version, req) || req.MemberID == "" || req.InstanceID != nil {
		return
	}
	if s.members == nil {
		s.members = map[*process]groupMember{}
	}
	s.members[p] = groupMember{group: req.Group, member: req.MemberID,
		session:   time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		rebalance: time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond}
}

// scheduleExpiry is called when p is reaped as killed.
func (s *scenario) scheduleExpiry(p *process) {
	m, ok := s.members[p]
	if !ok || !expireDeadMembers {
		return
	}
	delete(s.members, p)
	s.expiries = append(s.expiries, expiry{at: s.now + m.session + 2*m.rebalance, proc: p.name(), groupMember: m})
}

// expireMembers sends a LeaveGroup for every member whose expiry is due,
// through the held network as a harness pseudo-process (instance -2), so
// that when it reaches kfake is part of the schedule.
func (s *scenario) expireMembers() {
	for len(s.expiries) > 0 && s.expiries[0].at <= s.now && !s.stopping {
		e := s.expiries[0]
		s.expiries = s.expiries[1:]
		cl, err := s.expirerClient()
		if err != nil {
			s.fail(err.Error())
			return
		}
		s.healedAt = s.now // the group can move again: idle counts from here
		// The member id is left out: kfake draws it from crypto/rand.
		s.tr.add("expire-member", e.proc, fmt.Sprintf("group=%s (Kafka has removed a dead member by now; kfake keeps one whose JoinGroup answer was never delivered)", e.group))
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = e.group
		leaving := kmsg.NewLeaveGroupRequestMember()
		leaving.MemberID = e.member
		req.Members = []kmsg.LeaveGroupRequestMember{leaving}
		go func() { _, _ = req.RequestWith(context.Background(), cl) }() // held until released
	}
}

// expiring reports whether a member removal is still to come.
func (s *scenario) expiring() bool { return len(s.expiries) > 0 && !s.stopping }

// expirerClient is the harness's group client, made at its first use.
func (s *scenario) expirerClient() (*kgo.Client, error) {
	if s.expirer != nil {
		return s.expirer, nil
	}
	proc := &process{s: s, instance: -2, done: make(chan struct{})}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.Dialer(s.net.dialFor(proc, 1)), kgo.DisableClientMetrics(),
		kgo.RetryBackoffFn(deterministicBackoff))
	if err != nil {
		return nil, fmt.Errorf("appsim: group client for member expiry: %w", err)
	}
	s.expirer = cl
	return cl, nil
}
