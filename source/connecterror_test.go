package source

import (
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
