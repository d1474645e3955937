package registrytest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/internal/registrytest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	registrytest.StopShared()
	os.Exit(code)
}

// The shared real registry serves the Confluent-compatible API and
// enforces a subject's BACKWARD compatibility, which srfake does not.
func TestRealRegistry(t *testing.T) {
	if mode := os.Getenv(registrytest.EnvRegistry); mode != "real" && mode != "auto" {
		t.Skipf("a real schema registry is not asked for (%s=real, or make test-registry)", registrytest.EnvRegistry)
	}
	url := registrytest.URL(t) // auto: srfake when the machine cannot run Apicurio, saying why
	if !registrytest.Enforces(url) {
		t.Skipf("no real schema registry on this machine (%s=auto; the line above says why)", registrytest.EnvRegistry)
	}
	r := registrytest.Real(t)
	t.Logf("Apicurio Registry %s answered %s after its start, at %s", r.Version, r.Took.Round(time.Millisecond), r.URL)
	if url != r.URL {
		t.Fatalf("URL = %s, want the shared registry %s", url, r.URL)
	}
	cl, err := sr.NewClient(sr.URLs(r.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	subject := fmt.Sprintf("registrytest-%d-value", time.Now().UnixNano())

	// As pg2kafka does: the level first, on a subject with no version yet.
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("setting BACKWARD on %s: %+v", subject, res)
	}
	record := func(fields string) sr.Schema {
		return sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"Value","namespace":"registrytest","fields":[` + fields + `]}`}
	}
	v1 := record(`{"name":"id","type":"int"},{"name":"qty","type":["null","int"],"default":null}`)
	id1, err := cl.RegisterSchema(ctx, subject, v1, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	// int to long is a promotion and a field with a default may be added:
	// BACKWARD allows both.
	v2 := record(`{"name":"id","type":"int"},{"name":"qty","type":["null","long"],"default":null},{"name":"note","type":["null","string"],"default":null}`)
	if _, err := cl.RegisterSchema(ctx, subject, v2, -1, -1); err != nil {
		t.Fatalf("a BACKWARD-compatible version was refused: %v", err)
	}
	// long to string is not a promotion: data written with v2 cannot be
	// read with v3.
	v3 := record(`{"name":"id","type":"int"},{"name":"qty","type":["null","string"],"default":null},{"name":"note","type":["null","string"],"default":null}`)
	_, err = cl.RegisterSchema(ctx, subject, v3, -1, -1)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 409 {
		t.Fatalf("registering a BACKWARD-incompatible version: %v, want HTTP 409", err)
	}
	t.Logf("refused: %v", err)
	if vs, err := cl.SubjectVersions(ctx, subject); err != nil || len(vs) != 2 {
		t.Errorf("versions %v (%v), want 2", vs, err)
	}
	got, err := cl.SchemaByID(ctx, id1)
	if err != nil || got.Type != sr.TypeAvro {
		t.Errorf("schema %d: %+v, %v", id1, got, err)
	}
}
