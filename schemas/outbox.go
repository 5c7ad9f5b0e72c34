package schemas

import "time"

// OutboxRow is an outbox row handed to the relay to publish.
type OutboxRow struct {
	Outbound
	// Attempts counts the earlier tries that failed in a way that may pass
	// (the relay backs off on it).
	Attempts int
	// FailingFor is how long ago the first of those failures was; 0 when
	// there was none.
	FailingFor time.Duration
}

// OutboxVerdict is what became of one row the relay tried to publish.
type OutboxVerdict int

const (
	// OutboxLeft: nothing to record; the row stays pending as it was and
	// is taken again by a later pass (it waited behind an earlier row of
	// its key, or was written out of order and must go again).
	OutboxLeft OutboxVerdict = iota
	// OutboxPublished: the broker acknowledged the row.
	OutboxPublished
	// OutboxFailed: a failure that may pass (the broker or a partition
	// unavailable): the row is tried again after RetryIn, and the later
	// rows of its key wait until then.
	OutboxFailed
	// OutboxSetAside: refused for good (too large, invalid, its topic
	// missing): the row is set aside with its Reason and no longer tried;
	// the later rows of its key (on its topic) wait behind it until an
	// operator retries it.
	OutboxSetAside
)

// OutboxOutcome is the verdict on one row, by its ID.
type OutboxOutcome struct {
	ID      int64
	Verdict OutboxVerdict
	Reason  string        // OutboxFailed, OutboxSetAside: what the broker or the relay said
	RetryIn time.Duration // OutboxFailed: not tried again before this
}

// OutboxPass counts what one pass of the relay did.
type OutboxPass struct {
	Busy     bool // another relay held the outbox: nothing was selected
	Selected int  // rows taken from the outbox
	// NextRetry: nothing was due, and the first of the rows waiting out a
	// failure is due again in this long; 0 when no row waits.
	NextRetry time.Duration
	Published int
	Failed    int
	SetAside  int
}

// SetAsideRow is an outbox row set aside as refused for good, as an
// operator sees it: never its value, which is for its reader only.
type SetAsideRow struct {
	ID         int64     `db:"id" json:"id"`
	Topic      string    `db:"topic" json:"topic"`
	Key        string    `db:"key" json:"key"`
	Bytes      int       `db:"bytes" json:"bytes"` // the value's size
	Reason     string    `db:"reason" json:"reason"`
	CreatedAt  time.Time `db:"created_at" json:"createdAt"`
	SetAsideAt time.Time `db:"set_aside_at" json:"setAsideAt"`
	// HeldBack counts the later rows of its key on its topic that wait
	// behind it.
	HeldBack int `db:"held_back" json:"heldBack"`
}

// OutboxHealth is the outbox as readiness reports it.
type OutboxHealth struct {
	// Pending counts rows waiting to be published, those held back behind
	// a set-aside row included.
	Pending int `json:"pending"`
	// SetAside counts rows set aside as refused for good.
	SetAside int `json:"setAside"`
	// OldestPending is the age of the oldest pending row that is not held
	// back; 0 when there is none.
	OldestPending time.Duration `json:"-"`
}

// PruneCounts counts what one retention batch deleted.
type PruneCounts struct {
	Commands      int64
	ProviderCalls int64
	Holds         int64
}
