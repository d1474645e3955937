package e2e

import (
	"strings"
	"testing"
)

// A table whose topic name (kafka.topic_prefix, schema and table) would
// exceed Kafka's 249 characters is refused by check, naming the table and
// the fix, instead of failing when run creates the topic.
func TestCheckRefusesTopicNameTooLong(t *testing.T) {
	e := newEnv(t)
	// A long prefix (at most 200 characters) and a 63-character table name.
	e.prefix += "." + strings.Repeat("p", 190-len(e.prefix))
	table := strings.Repeat("t", 63)
	e.exec(`CREATE TABLE `+table+` (id integer PRIMARY KEY)`,
		`ALTER PUBLICATION flow_publication ADD TABLE `+table)

	out, errOut, code := e.tool("check")
	if code != 1 {
		t.Fatalf("check exited %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"FAIL", "bindings", "public." + table, "characters long", "at most 249", "topic: <name>"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}
