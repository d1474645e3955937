package source

import (
	"strings"
	"testing"
)

func TestSetupSQL(t *testing.T) {
	base := SetupOptions{Role: "cap", Database: "shop", Publication: "flow_publication", WatermarksTable: "public.flow_watermarks",
		Tables: []TableRef{{Schema: "public", Name: "orders"}, {Schema: "sales", Name: "it'ems"}}}
	cases := []struct {
		name      string
		mod       func(o *SetupOptions)
		want, not []string
	}{
		{"pg15", func(o *SetupOptions) { o.Version = 150004 },
			[]string{"CREATE ROLE \"cap\" WITH LOGIN PASSWORD 'CHANGE-ME'", "ALTER ROLE \"cap\" WITH LOGIN REPLICATION;", "GRANT pg_read_all_data TO \"cap\";",
				"publish_via_partition_root = true", `ADD TABLE "sales"."it'ems"`, `'"sales"."it''ems"'::regclass`, `ADD TABLE "public"."flow_watermarks"`},
			[]string{"GRANT SELECT ON", "rds_replication TO \"cap\";\n"}},
		{"pg12 rds", func(o *SetupOptions) { o.Version = 120000; o.RDS = true; o.Password = "p'w" },
			[]string{"GRANT rds_replication TO \"cap\";", `GRANT USAGE ON SCHEMA "sales"`, `GRANT SELECT ON "public"."orders"`, "PASSWORD 'p''w'"},
			[]string{"pg_read_all_data TO", "publish_via_partition_root", "WITH LOGIN REPLICATION"}},
		{"per table, read-only, no password", func(o *SetupOptions) {
			o.Version = 160000
			o.PerTableGrants, o.ReadOnly, o.NoPassword = true, true, true
		},
			[]string{`GRANT SELECT ON "sales"."it'ems"`, "CREATE ROLE \"cap\" WITH LOGIN;"},
			[]string{"flow_watermarks", "PASSWORD", "pg_read_all_data TO"}},
		{"no tables, wal_level replica", func(o *SetupOptions) { o.Tables = nil; o.WALLevel = "replica" },
			[]string{"GRANT SELECT ON ALL TABLES IN SCHEMA public", "ALTER PUBLICATION flow_publication ADD TABLE <schema>.<table>", "ALTER SYSTEM SET wal_level = logical"},
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.mod(&o)
			stmts, err := SetupSQL(o)
			if err != nil {
				t.Fatal(err)
			}
			sql := FormatSetupSQL(stmts)
			for _, w := range c.want {
				if !strings.Contains(sql, w) {
					t.Errorf("lacks %q:\n%s", w, sql)
				}
			}
			for _, n := range c.not {
				if strings.Contains(sql, n) {
					t.Errorf("has %q:\n%s", n, sql)
				}
			}
		})
	}
	if _, err := SetupSQL(SetupOptions{}); err == nil {
		t.Error("no role: want an error")
	}
}
