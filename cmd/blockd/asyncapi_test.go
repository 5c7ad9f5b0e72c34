package main

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"
)

// asyncAPIPath is the AsyncAPI document of the message contract, relative
// to this package.
const asyncAPIPath = "../../schemas/asyncapi.json"

// asyncAPIChannel is what this test reads of a channel of the document.
type asyncAPIChannel struct {
	Address  string `json:"address"`
	Messages map[string]struct {
		Ref string `json:"$ref"`
	} `json:"messages"`
	Bindings struct {
		Kafka struct {
			Topic string `json:"topic"`
		} `json:"kafka"`
	} `json:"bindings"`
}

// TestAsyncAPIChannelsAreTheDefaultTopics: each channel of the AsyncAPI
// document is addressed (and bound) to the default topic of what it
// carries: a command channel to the BLOCKD_TOPIC_* default of its
// message's kind, the results and dead letter channels to
// BLOCKD_TOPIC_RESULTS and BLOCKD_TOPIC_DLQ; and the consumer group of the
// receive operations is BLOCKD_GROUP_ID's default.
func TestAsyncAPIChannelsAreTheDefaultTopics(t *testing.T) {
	c, err := loadConfig(envOf(nil), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Channels   map[string]asyncAPIChannel `json:"channels"`
		Operations map[string]struct {
			Action   string `json:"action"`
			Bindings struct {
				Kafka struct {
					GroupID struct {
						Enum []string `json:"enum"`
					} `json:"groupId"`
				} `json:"kafka"`
			} `json:"bindings"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// The topic each message of the document travels on, by default.
	topicOf := map[string]string{
		"#/components/messages/blockCommand":          c.TopicBlock,
		"#/components/messages/unblockCommand":        c.TopicUnblock,
		"#/components/messages/transferCommand":       c.TopicTransfer,
		"#/components/messages/inquiryCommand":        c.TopicInquiry,
		"#/components/messages/result":                c.TopicResults,
		"#/components/messages/refusal":               c.TopicResults,
		"#/components/messages/deadLetter":            c.TopicDLQ,
		"#/components/messages/deadLetterReplacement": c.TopicDLQ,
	}
	var addresses []string
	for id, ch := range doc.Channels {
		addresses = append(addresses, ch.Address)
		if ch.Bindings.Kafka.Topic != ch.Address {
			t.Errorf("channel %s: Kafka binding topic %q, address %q", id, ch.Bindings.Kafka.Topic, ch.Address)
		}
		if len(ch.Messages) == 0 {
			t.Errorf("channel %s carries no message", id)
		}
		for name, m := range ch.Messages {
			want, ok := topicOf[m.Ref]
			if !ok {
				t.Errorf("channel %s: message %s (%s) is one this test does not know", id, name, m.Ref)
				continue
			}
			if ch.Address != want {
				t.Errorf("channel %s: address %q, but %s travels on %q by default", id, ch.Address, m.Ref, want)
			}
		}
	}
	slices.Sort(addresses)
	want := slices.Sorted(maps.Keys(map[string]bool{c.TopicBlock: true, c.TopicUnblock: true, c.TopicTransfer: true,
		c.TopicInquiry: true, c.TopicResults: true, c.TopicDLQ: true}))
	if !slices.Equal(addresses, want) {
		t.Errorf("channel addresses %v, want one channel per default topic %v", addresses, want)
	}
	receivers := 0
	for id, op := range doc.Operations {
		if op.Action != "receive" {
			continue
		}
		receivers++
		if g := op.Bindings.Kafka.GroupID.Enum; !slices.Equal(g, []string{c.GroupID}) {
			t.Errorf("operation %s: consumer group %v, want [%s] (BLOCKD_GROUP_ID's default)", id, g, c.GroupID)
		}
	}
	if receivers != 4 {
		t.Errorf("%d receive operations, want one per command topic (4)", receivers)
	}
}
