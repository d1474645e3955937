package kafka

import (
	"testing"
	"time"
)

// TestPacerAdapts follows the pause through commits whose first produce
// looked held (doubling, up to maxPause), quick (shrinking by 1/32, down to
// minPause) or unacknowledged (unchanged).
func TestPacerAdapts(t *testing.T) {
	for _, tc := range []struct {
		name string
		rtts []time.Duration // the first produce's round trip of each transaction
		want time.Duration   // the pause after the last commit
	}{
		{"first commit starts the pause", []time.Duration{0}, startPause},
		{"a hold doubles it", []time.Duration{20 * time.Millisecond}, 2 * startPause},
		{"holds double it up to the cap", []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}, maxPause},
		{"a quick round trip shrinks it", []time.Duration{time.Millisecond}, startPause - startPause/32},
		{"quick round trips shrink it to the floor", repeat(time.Millisecond, 80), minPause},
		{"a round trip at the hold sign is not a hold", []time.Duration{holdSign}, startPause - startPause/32},
		{"after holds, quick round trips bring it back down", append(repeat(20*time.Millisecond, 3), repeat(time.Millisecond, 150)...), minPause},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pacer
			for _, rtt := range tc.rtts {
				p.rtt = rtt
				p.committed()
			}
			if p.pause != tc.want {
				t.Errorf("pause %s, want %s", p.pause, tc.want)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestPacerWaitsOutThePause: a transaction begun right after a commit
// waits at least the rest of the pause; one before any commit does not.
func TestPacerWaitsOutThePause(t *testing.T) {
	p := pacer{pause: time.Second} // no commit yet: nothing to wait for
	start := time.Now()
	p.wait()
	if d := time.Since(start); d > p.pause/2 {
		t.Errorf("wait before any commit took %s", d)
	}
	p = pacer{}
	start = time.Now()
	p.rtt = 20 * time.Millisecond
	p.committed() // pause 4 ms from now
	p.wait()
	if got := time.Since(p.ended); got < p.pause {
		t.Errorf("wait returned %s after the commit, before the pause of %s", got, p.pause)
	}
	if time.Since(start) < p.pause {
		t.Errorf("no wait at all")
	}
}
