package kafka

import (
	"sync"
	"time"
)

// Pacing of back-to-back transactions. A broker holds a produce to a
// partition whose previous transaction's commit markers are still being
// written: under transactions v2 (Kafka 4.0+) the partition's leader
// retries the implicit AddPartitionsToTxn after
// add.partitions.to.txn.retry.backoff.ms (20 ms by default), and under v1
// the client's AddPartitionsToTxn is refused with CONCURRENT_TRANSACTIONS
// and retried after a 20 ms backoff. A transaction begun the instant the
// previous one committed (streaming under load: the next batch is always
// waiting) pays that hold on every commit, which on a local broker is ten
// times the commit itself. Markers of a healthy broker are written within
// a few milliseconds, so a transaction that begins within pause of the last
// commit first waits out the rest of it. The pause adapts: a first produce
// whose round trip looks like a hold doubles it (up to maxPause), one that
// does not shrinks it by 1/32 (down to minPause). It comes down slowly
// because a hold costs a whole batch ~35 ms, a pause too long by 1 ms only
// 1 ms: shrinking by 1/8 probed into a hold every ~10 commits, and p99 at
// 5,000 txn/s was 46-53 ms; by 1/32, 39-42 ms.
//
// Each producer of a transactional sink's pair paces itself (see Sink):
// its last commit is a whole commit of the other producer back, so a pause
// is rarely left to wait out. The pacer stays for a sink left with one
// producer, and for a broker slower than a commit to write markers.
const (
	minPause   = 500 * time.Microsecond
	maxPause   = 16 * time.Millisecond
	startPause = 2 * time.Millisecond
	// holdSign is a first produce's round trip that suggests a hold: more
	// than the linger (5 ms) and a local round trip.
	holdSign = 12 * time.Millisecond
)

type pacer struct {
	mu    sync.Mutex
	pause time.Duration
	ended time.Time     // when the last commit ended
	sent  time.Time     // when this transaction's first record was produced
	rtt   time.Duration // its round trip, once acknowledged
}

// wait sleeps until pause has passed since the last commit.
func (p *pacer) wait() {
	p.mu.Lock()
	var d time.Duration
	if !p.ended.IsZero() {
		d = p.pause - time.Since(p.ended)
	}
	p.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// produced marks the transaction's first record sent.
func (p *pacer) produced() {
	p.mu.Lock()
	p.sent, p.rtt = time.Now(), 0
	p.mu.Unlock()
}

// acknowledged marks the first record's produce acknowledged.
func (p *pacer) acknowledged() {
	p.mu.Lock()
	p.rtt = time.Since(p.sent)
	p.mu.Unlock()
}

// committed adapts the pause to the transaction just committed and starts
// the next pause.
func (p *pacer) committed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pause == 0 {
		p.pause = startPause
	}
	switch {
	case p.rtt > holdSign:
		p.pause = min(2*p.pause, maxPause)
	case p.rtt > 0:
		p.pause = max(p.pause-p.pause/32, minPause)
	}
	p.ended, p.rtt = time.Now(), 0
}
