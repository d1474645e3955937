// Package avrotest holds what the tests of the Avro encoders share
// (schema/avro's, and schema/debezium's of the Debezium envelope in
// Avro): an in-memory schema registry that checks compatibility as
// Confluent's does, the decoding of a record in the Confluent wire format
// back to comparable values, and the decimal columns of the test tables.
package avrotest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
)

// Registry is an in-memory schema registry (franz-go's srfake) whose
// registrations are checked for BACKWARD compatibility against the
// subject's latest version with hamba's checker (srfake accepts anything),
// refused as Confluent's registry does.
type Registry struct {
	*srfake.Registry
	// Client is a registry client of the fake.
	Client *sr.Client
}

// NewRegistry starts a Registry for the test, closed when it ends.
func NewRegistry(t *testing.T) *Registry {
	t.Helper()
	f := &Registry{Registry: srfake.New(srfake.WithGlobalCompat(sr.CompatNone))}
	t.Cleanup(f.Close)
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/subjects/") || !strings.HasSuffix(r.URL.Path, "/versions") {
			return false
		}
		subject := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/subjects/"), "/versions")
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var s sr.Schema
		if json.Unmarshal(body, &s) != nil {
			return false
		}
		var latest sr.SubjectSchema
		for v := 1; ; v++ {
			ss, ok := f.GetSchema(subject, v)
			if !ok {
				break
			}
			latest = ss
		}
		if latest.Schema.Schema == "" {
			return false
		}
		writer, err1 := avro.ParseWithCache(latest.Schema.Schema, "", &avro.SchemaCache{})
		reader, err2 := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
		if err1 != nil || err2 != nil {
			return false
		}
		if err := avro.NewSchemaCompatibility().Compatible(reader, writer); err != nil {
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(sr.ResponseError{ErrorCode: 409, Message: fmt.Sprintf(
				"Schema being registered is incompatible with an earlier schema for subject %q, details: [%v]", subject, err)})
			return true
		}
		return false
	})
	cl, err := sr.NewClient(sr.URLs(f.URL()))
	if err != nil {
		t.Fatal(err)
	}
	f.Client = cl
	return f
}

// Decode reads a record in the Confluent wire format with the schema the
// registry holds under the ID in its header, into hamba's generic form
// normalized by Norm, and returns it with the schema ID.
func (f *Registry) Decode(t *testing.T, rec []byte) (any, int) {
	t.Helper()
	if len(rec) < 5 || rec[0] != 0 {
		t.Fatalf("not in the wire format: % x", rec)
	}
	id := int(binary.BigEndian.Uint32(rec[1:5]))
	s, err := f.Client.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatalf("schema %d: %v", id, err)
	}
	schema, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	// Read one byte at a time, so that what is left in body after the
	// record is exactly what the schema did not consume.
	body := bytes.NewReader(rec[5:])
	r := avro.NewReader(body, 1)
	var v any
	r.ReadVal(schema, &v)
	if r.Error != nil {
		t.Fatalf("decoding with schema %d: %v (% x)", id, r.Error, rec)
	}
	if body.Len() != 0 {
		t.Fatalf("%d bytes beyond the record: % x", body.Len(), rec)
	}
	return Norm(v), id
}

// Norm makes decoded values comparable: union wrappers of arrays and
// records ({"array": [...]}, {"ns.Before": {...}}) are dropped, decimals
// become their exact "p/q" string and times their UTC RFC 3339 text.
func Norm(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, in := range x {
				if k == "array" || strings.Contains(k, ".") {
					return Norm(in)
				}
			}
		}
		m := make(map[string]any, len(x))
		for k, in := range x {
			m[k] = Norm(in)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, in := range x {
			out[i] = Norm(in)
		}
		return out
	case *big.Rat:
		return "rat:" + x.RatString()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// TS returns the RFC 3339 text of a time as Norm gives it (UTC).
func TS(s string) string {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return tm.UTC().Format(time.RFC3339Nano)
}

// Day returns the text Norm gives the date y-m-d.
func Day(y int, m time.Month, d int) string {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
}

// Decimals is an avro.Decimal hook for the tests' tables: column
// "price" is numeric(10,2), column "big" numeric(38,5), any other numeric
// unconstrained.
func Decimals(t *event.Table, col int) (int, int, bool) {
	switch t.Columns[col].Name {
	case "price":
		return schema.NumericTypmod(10<<16 | 2 + 4)
	case "big":
		return schema.NumericTypmod(38<<16 | 5 + 4)
	}
	return 0, 0, false
}
