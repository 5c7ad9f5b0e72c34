package main

import (
	"context"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// groupDoctor works around two defects of the embedded kfake broker, so
// that a chaos run measures blockd and not the development broker.
//
//  1. Ghost members. A consumer SIGKILLed while its JoinGroup request waits
//     at the coordinator stays a member of the generation that request
//     completes and is never expired: kfake (re)starts a member's session
//     timer only when a reply reaches it (group.reply), and the leader's
//     SyncGroup cancels the timer that evicts members that never sync
//     (completeLeaderSync → clearPendingSync). A ghost in a Stable group
//     holds partitions nobody consumes.
//  2. Rebalance livelock. Every JoinGroup during PreparingRebalance restarts
//     kfake's rebalance deadline (group.rebalance: "Always reset the timer"),
//     so while a ghost never rejoins, the live members — whose kafka-go
//     JoinGroup gives up after Timeout+RebalanceTimeout = 15s and is sent
//     again — keep pushing the 10s deadline back, and the generation never
//     completes, for good.
//
// Real Kafka expires such a member after its session timeout and does not
// extend a rebalance for each join. The doctor describes the group every
// 2s; when it has been Stable with more members than running blockd
// processes for longer than a session timeout (16s), or has not been Stable
// for 30s while no blockd was killed, paused or restarted for 15s, it
// evicts every member with one LeaveGroup request (by member id, as an
// administrator can). The live members see UNKNOWN_MEMBER_ID and join
// again; the ghost is gone. It never commits an offset and never touches a
// blockd process or the database. A paused blockd counts as running: it
// is still a member and comes back.
type groupDoctor struct {
	addr  string
	procs *procSet
	log   *chaosLogger

	mu         sync.Mutex
	nEvictions int
}

const chaosGroupID = "blockd"

func (d *groupDoctor) evictions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nEvictions
}

// run watches the group until ctx ends.
func (d *groupDoctor) run(ctx context.Context) {
	client := &kafka.Client{Addr: kafka.TCP(d.addr), Timeout: 3 * time.Second}
	var since, lastAction time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		running := 0
		for _, p := range d.procs.instances() {
			if p.running() {
				running++
			}
		}
		res, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{chaosGroupID}})
		if err != nil || len(res.Groups) != 1 || res.Groups[0].Error != nil {
			since = time.Time{}
			continue
		}
		g := res.Groups[0]
		ghost := g.GroupState == "Stable" && len(g.Members) > running
		stuck := g.GroupState != "Stable" && g.GroupState != "Empty" && len(g.Members) > 0
		if !ghost && !stuck {
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = time.Now()
			continue
		}
		switch {
		case time.Since(lastAction) < 30*time.Second:
			continue
		case ghost && time.Since(since) < 16*time.Second:
			continue
		case stuck && (time.Since(since) < 30*time.Second || time.Since(d.procs.lastDisruption()) < 15*time.Second):
			continue
		}
		why := "not Stable"
		if ghost {
			why = "Stable with more members than running blockd processes"
		}
		d.log.printf("group doctor: group %s %s (%s, %d members, %d blockd running) for %s: evicting every member so the live ones rejoin without the kfake ghost",
			chaosGroupID, why, g.GroupState, len(g.Members), running, time.Since(since).Round(time.Second))
		lastAction, since = time.Now(), time.Time{}
		req := &kafka.LeaveGroupRequest{GroupID: chaosGroupID}
		for _, m := range g.Members {
			req.Members = append(req.Members, kafka.LeaveGroupRequestMember{ID: m.MemberID})
		}
		if _, err := client.LeaveGroup(ctx, req); err != nil {
			d.log.printf("group doctor: LeaveGroup: %v", err)
			continue
		}
		d.mu.Lock()
		d.nEvictions++
		d.mu.Unlock()
	}
}
