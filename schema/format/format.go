// Package format builds the record encoder a configuration asks for: the
// one place that maps kafka.format (json, avro) and kafka.envelope (flow,
// debezium) to the encoder of schema/flow, schema/debezium or schema/avro.
// The command and the tests build encoders through it; the capture loop
// takes the built one as given.
package format

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/schema/avro"
	"github.com/pg2kafka/pg2kafka/schema/debezium"
	"github.com/pg2kafka/pg2kafka/schema/flow"
)

// Settings is what the choice and the make of an encoder depend on.
type Settings struct {
	// Format is kafka.format: "json" (or "") or "avro".
	Format string
	// Envelope is kafka.envelope: "flow" (or "") or "debezium".
	Envelope string
	// SourceTag is written as _meta.source.tag (the Flow envelope).
	SourceTag string
	// MultidimensionalArrays keeps the dimensions of arrays (Flow's
	// multidimensional_arrays feature flag; the Flow envelope in JSON).
	MultidimensionalArrays bool
	// Debezium fills the Debezium envelope's source: Version, Name (the
	// topic prefix, also the namespace of its Avro records) and Database.
	Debezium debezium.Options
	// Registry is the schema registry's client; Avro needs one.
	Registry *sr.Client
	// TopicOf names the topic of a table (the registry subjects are
	// "<topic>-key" and "<topic>-value"); Avro needs it.
	TopicOf func(t *event.Table) string
}

// NewEncoder returns the builder of the encoders Settings ask for.
func NewEncoder(s Settings) (event.NewEncoder, error) {
	debeziumEnvelope := false
	switch s.Envelope {
	case "", "flow":
	case "debezium":
		debeziumEnvelope = true
	default:
		return nil, fmt.Errorf("envelope %q: want flow or debezium", s.Envelope)
	}
	switch s.Format {
	case "", "json":
		if debeziumEnvelope {
			opts := s.Debezium
			return func(t *event.Table, key []int) (event.Encoder, error) {
				return debezium.NewEncoder(t, key, opts), nil
			}, nil
		}
		var opts []flow.Option
		if s.MultidimensionalArrays {
			opts = append(opts, flow.MultidimensionalArrays())
		}
		tag := s.SourceTag
		return func(t *event.Table, key []int) (event.Encoder, error) {
			return flow.NewEncoder(t, key, tag, opts...), nil
		}, nil
	case "avro":
	default:
		return nil, fmt.Errorf("format %q: want json or avro", s.Format)
	}
	if s.Registry == nil || s.TopicOf == nil {
		return nil, errors.New("the avro format needs a schema registry client and topic names")
	}
	// numeric(p,s) columns become Avro decimals; unconstrained numeric stays
	// a string (its scale varies from row to row).
	decimal := avro.Decimal(func(t *event.Table, col int) (int, int, bool) {
		if ty := t.Columns[col].Type; ty.Kind == event.KindNumeric {
			return schema.NumericTypmod(ty.Typmod)
		}
		return 0, 0, false
	})
	if debeziumEnvelope {
		// Debezium's Avro records are named <topic.prefix>.<schema>.<table>.
		reg := avro.NewRegistry(s.Registry, avro.Namespace(s.Debezium.Name), decimal)
		return encoders(debezium.NewAvroEncoder(reg, s.TopicOf, s.Debezium)), nil
	}
	return encoders(avro.NewRegistry(s.Registry, avro.SourceTag(s.SourceTag), decimal).NewEncoder(s.TopicOf)), nil
}

// encoders turns a builder of a concrete encoder into an event.NewEncoder.
func encoders[E event.Encoder](build func(t *event.Table, key []int) (E, error)) event.NewEncoder {
	return func(t *event.Table, key []int) (event.Encoder, error) {
		e, err := build(t, key)
		if err != nil {
			return nil, err // not a typed nil
		}
		return e, nil
	}
}
