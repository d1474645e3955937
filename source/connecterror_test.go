package source

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// An authentication failure names both causes PostgreSQL does not tell
// apart (no such role, wrong password) and points to pg2kafka setup; a
// pg_hba.conf refusal names pg_hba.conf.
func TestConnectErrorAuthentication(t *testing.T) {
	for _, tc := range []struct {
		name, code, msg string
		want            []string
	}{
		{"password auth, no such role or wrong password", "28P01", `password authentication failed for user "nobody"`,
			[]string{"does not exist or its password is wrong", "source.user", "source.password", "pg2kafka setup"}},
		{"trust auth, no such role", "28000", `role "nobody" does not exist`,
			[]string{"does not exist or its password is wrong", "pg2kafka setup"}},
		{"pg_hba.conf refusal", "28000", `no pg_hba.conf entry for host "10.0.0.1", user "nobody", database "shop", no encryption`,
			[]string{"pg_hba.conf", "host shop nobody"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause := fmt.Errorf("failed to connect: %w", &pgconn.PgError{Severity: "FATAL", Code: tc.code, Message: tc.msg})
			err := connectError("nobody", "shop", "db", 5432, cause).Error()
			for _, w := range tc.want {
				if !strings.Contains(err, w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err, "incorrect username or password") {
				t.Errorf("error %q still claims a wrong username or password", err)
			}
		})
	}
}

// An invalidated slot, as PostgreSQL 13–16 and 17+ word it, is a lost slot
// (permanent, ErrSlotMissing) whose error names the last durable position
// and the fix; other 55000 errors are not.
func TestSlotInvalidated(t *testing.T) {
	for _, tc := range []struct {
		name, msg, detail string
		lost              bool
	}{
		{"PostgreSQL 13-16", `cannot read from logical replication slot "flow_slot"`, "This slot has been invalidated because it exceeded the maximum reserved size.", true},
		{"PostgreSQL 17+", `can no longer get changes from replication slot "flow_slot"`, "This slot has been invalidated because it exceeded the maximum reserved size.", true},
		{"another prerequisite", `logical decoding requires wal_level >= logical`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause := fmt.Errorf("receiving: %w", &pgconn.PgError{Severity: "ERROR", Code: "55000", Message: tc.msg, Detail: tc.detail})
			if got := slotInvalidated(cause); got != tc.lost {
				t.Fatalf("slotInvalidated = %v, want %v", got, tc.lost)
			}
			if !tc.lost {
				return
			}
			err := slotLost("flow_slot", 0x16B3748, cause)
			if !errors.Is(err, ErrSlotMissing) {
				t.Errorf("%v is not ErrSlotMissing", err)
			}
			for _, w := range []string{`"flow_slot"`, "0/16B3748", "state reset --yes", "max_slot_wal_keep_size"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
