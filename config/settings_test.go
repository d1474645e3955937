package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	readmeBegin = "<!-- settings table: generated from config/settings.go; refresh with PG2KAFKA_UPDATE_README=1 go test ./config -run TestREADMESettingsTable -->\n"
	readmeEnd   = "<!-- end of settings table -->\n"
)

// TestREADMESettingsTable fails when the README's configuration table is
// not the one the settings table renders. PG2KAFKA_UPDATE_README=1
// rewrites it.
func TestREADMESettingsTable(t *testing.T) {
	const path = "../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, readmeBegin)
	j := strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no settings table markers (%q ... %q)", readmeBegin, readmeEnd)
	}
	got := s[i+len(readmeBegin) : j]
	want := settingsTable()
	if got == want {
		return
	}
	if os.Getenv("PG2KAFKA_UPDATE_README") != "" {
		if err := os.WriteFile(path, []byte(s[:i+len(readmeBegin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := 0; k < len(gl) || k < len(wl); k++ {
		var g, w string
		if k < len(gl) {
			g = gl[k]
		}
		if k < len(wl) {
			w = wl[k]
		}
		if g != w {
			t.Fatalf("README.md's settings table differs from config/settings.go at row %d:\nREADME: %s\ntable:  %s\n(run PG2KAFKA_UPDATE_README=1 go test ./config -run TestREADMESettingsTable)", k, g, w)
		}
	}
}

// TestSettingsDeclaredOnce checks that every key is declared once and
// that every leaf field of Config and Binding has a key.
func TestSettingsDeclaredOnce(t *testing.T) {
	seen := map[string]bool{}
	fields := map[any]string{}
	var c Config
	var b Binding
	for _, s := range settings {
		if seen[s.path] {
			t.Errorf("%s declared twice", s.path)
		}
		seen[s.path] = true
		var ptr any
		switch {
		case s.field != nil:
			ptr = s.field(&c)
		case s.bfield != nil:
			ptr = s.bfield(&b)
		default:
			continue
		}
		if other, dup := fields[ptr]; dup {
			t.Errorf("%s and %s decode into the same field", s.path, other)
		}
		fields[ptr] = s.path
		if s.def != nil && reflect.TypeOf(ptr).Elem() != reflect.TypeOf(s.def) {
			t.Errorf("%s: default %#v is a %T, the field a %s", s.path, s.def, s.def, reflect.TypeOf(ptr).Elem())
		}
		if s.doc == "" {
			t.Errorf("%s has no doc", s.path)
		}
	}
	// Every exported leaf field of Config and Binding has its setting.
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "Bindings" {
				continue
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(fv, path+"."+f.Name)
				continue
			}
			if _, ok := fields[fv.Addr().Interface()]; !ok {
				t.Errorf("field %s%s has no setting", path, "."+f.Name)
			}
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "Config")
	walk(reflect.ValueOf(&b).Elem(), "Binding")
}

// TestZeroValuesReachTheLoop checks the zero values validation accepts:
// each is kept as written (never replaced by a default behind the
// user's back) or rejected with an error naming the key.
func TestZeroValuesReachTheLoop(t *testing.T) {
	kept := mustParse(t, "source: {address: db, password: pw}\nkafka:\n  brokers: [localhost]\n  batch: {max_delay: 0s}\nrecovery: {max_outage: 0s}\n")
	if kept.Kafka.Batch.MaxDelay != 0 {
		t.Errorf("kafka.batch.max_delay: 0 became %s", kept.Kafka.Batch.MaxDelay)
	}
	if kept.Recovery.MaxOutage != 0 {
		t.Errorf("recovery.max_outage: 0 became %s", kept.Recovery.MaxOutage)
	}
	for _, tc := range []struct{ yaml, path, msg string }{
		{"kafka: {brokers: [x], batch: {max_records: 0}}", "kafka.batch.max_records", "must be at least 1, got 0"},
		{"kafka: {brokers: [x], batch: {max_bytes: 0}}", "kafka.batch.max_bytes", "must be at least 1, got 0"},
		{"kafka: {brokers: [x], batch: {split_records: 0}}", "kafka.batch.split_records", "must be at least 1, got 0"},
		{"kafka: {brokers: [x], batch: {split_bytes: 0}}", "kafka.batch.split_bytes", "must be at least 1, got 0"},
		{"kafka: {brokers: [x], transaction_timeout: 0s}", "kafka.transaction_timeout", "must be at least 1s, got 0s"},
		{"kafka: {brokers: [x], connect_timeout: 0s}", "kafka.connect_timeout", "must be at least 1s, got 0s"},
		{"kafka: {brokers: [x], max_message_bytes: 0}", "kafka.max_message_bytes", "must be at least 1024, got 0"},
		{"kafka: {brokers: [x], partitions: 0}", "kafka.partitions", "must be at least 1, or -1 for the broker default; got 0"},
		{"kafka: {brokers: [x]}\nrecovery: {max_backoff: 0s}", "recovery.max_backoff", "must be at least 1s, got 0s"},
	} {
		e := parseErr(t, "source: {address: db, password: pw}\n"+tc.yaml+"\n")
		found := false
		for _, p := range e.Problems {
			if p.Path == tc.path && strings.Contains(p.Message, tc.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %q at %s, got %v", tc.yaml, tc.msg, tc.path, e)
		}
	}
}
