package format

import (
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/avro"
	"github.com/pg2kafka/pg2kafka/schema/debezium"
	"github.com/pg2kafka/pg2kafka/schema/flow"
)

func TestNewEncoderChoosesTheFormat(t *testing.T) {
	tbl := &event.Table{Schema: "public", Name: "t", Columns: []event.Column{
		{Name: "a", Type: event.Type{Name: "_int4", Kind: event.KindArray, Elem: &event.Type{Name: "int4", Kind: event.KindInt}}},
	}}
	ch := &event.Change{Op: event.OpCreate, Table: tbl, New: []event.Value{{Marker: event.MarkerText, Data: []byte("{{1,2},{3,4}}")}}}
	for _, tc := range []struct {
		name string
		s    Settings
		want func(event.Encoder) bool
	}{
		{"default", Settings{}, func(e event.Encoder) bool { _, ok := e.(*flow.Encoder); return ok }},
		{"json flow", Settings{Format: "json", Envelope: "flow"}, func(e event.Encoder) bool { _, ok := e.(*flow.Encoder); return ok }},
		{"json debezium", Settings{Format: "json", Envelope: "debezium"}, func(e event.Encoder) bool { _, ok := e.(*debezium.Encoder); return ok }},
	} {
		newEnc, err := NewEncoder(tc.s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		e, err := newEnc(tbl, nil)
		if err != nil || !tc.want(e) {
			t.Errorf("%s: %T, %v", tc.name, e, err)
		}
	}
	// The multidimensional_arrays flag keeps the dimensions.
	flat, _ := NewEncoder(Settings{})
	nested, _ := NewEncoder(Settings{MultidimensionalArrays: true})
	ef, _ := flat(tbl, nil)
	en, _ := nested(tbl, nil)
	want := flow.NewEncoder(tbl, nil, "", flow.MultidimensionalArrays()).AppendDocument(nil, ch)
	if got := en.AppendDocument(nil, ch); string(got) != string(want) {
		t.Errorf("nested: %s, want %s", got, want)
	}
	if got := ef.AppendDocument(nil, ch); string(got) == string(want) {
		t.Errorf("flat document kept the dimensions: %s", got)
	}
}

func TestNewEncoderAvro(t *testing.T) {
	if _, err := NewEncoder(Settings{Format: "avro"}); err == nil {
		t.Error("avro without a registry: no error")
	}
	client, err := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	topicOf := func(*event.Table) string { return "t" }
	for _, env := range []string{"flow", "debezium"} {
		if _, err := NewEncoder(Settings{Format: "avro", Envelope: env, Registry: client, TopicOf: topicOf}); err != nil {
			t.Errorf("avro %s: %v", env, err)
		}
	}
	var _ event.Encoder = (*avro.Encoder)(nil)
	var _ event.Encoder = (*debezium.AvroEncoder)(nil)
}

func TestNewEncoderRefusesUnknownNames(t *testing.T) {
	for _, s := range []Settings{{Format: "protobuf"}, {Envelope: "cloudevents"}} {
		if _, err := NewEncoder(s); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
