package capture

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/checkpoint"
)

// The LSN header must read exactly as PostgreSQL and the checkpoint print it.
func TestAppendLSN(t *testing.T) {
	for _, lsn := range []uint64{0, 1, 0x16B3748, 0x1A3F2B8F40, 0xFFFFFFFFFFFFFFFF, 0x100000000} {
		got := string(appendLSN([]byte("x"), lsn))
		if want := "x" + checkpoint.LSN(lsn).String(); got != want {
			t.Errorf("appendLSN(%#x) = %q, want %q", lsn, got, want)
		}
	}
}
