package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// tlsCA is a throwaway certificate authority.
type tlsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// tlsNextSerial returns a random certificate serial number.
func tlsNextSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n
}

// tlsNewCA creates a self-signed CA certificate.
func tlsNewCA(t *testing.T, name string) *tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          tlsNextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverCert issues a server certificate for 127.0.0.1, ::1 and localhost
// and returns it and its key, PEM-encoded.
func (ca *tlsCA) serverCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: tlsNextSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// tlsServerConfig is a TLS listener configuration presenting a certificate
// of ca.
func (ca *tlsCA) tlsServerConfig(t *testing.T) *tls.Config {
	t.Helper()
	certPEM, keyPEM := ca.serverCert(t)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// pool is a certificate pool holding just ca.
func (ca *tlsCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// write writes the CA certificate into dir and returns its path.
func (ca *tlsCA) write(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsStartPostgres starts a separate PostgreSQL server with ssl = on and a
// certificate of ca. The key file belongs to the server's user, mode 0600,
// as PostgreSQL requires.
func tlsStartPostgres(t *testing.T, ca *tlsCA) *pgtest.Server {
	t.Helper()
	if _, err := pgtest.BinDir(); err != nil {
		t.Skipf("cannot start a separate PostgreSQL server: %v", err)
	}
	uid, gid, other, err := pgtest.ServerOwner()
	if err != nil {
		t.Skipf("cannot start a separate PostgreSQL server: %v", err)
	}
	// Not t.TempDir: its parent is private to the test's user.
	dir, err := os.MkdirTemp("", "pg2kafka-pgtls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	certPEM, keyPEM := ca.serverCert(t)
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if other {
		for _, p := range []string{dir, certFile, keyFile} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatalf("handing %s to the server's user: %v", p, err)
			}
		}
	}
	srv, err := pgtest.Start("ssl = on", "ssl_cert_file = '"+certFile+"'", "ssl_key_file = '"+keyFile+"'")
	if err != nil {
		t.Fatalf("starting PostgreSQL with ssl = on: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// tlsSSLConfig returns a configOpts mutation that replaces "sslmode:
// disable" by the given source.advanced lines.
func tlsSSLConfig(lines ...string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "    sslmode: disable\n", indent(lines, "    "), 1)
	}
}

// tlsNoSlot checks that a capture that failed before streaming left no
// slot behind.
func tlsNoSlot(t *testing.T, url, slot string) {
	t.Helper()
	if exists, _ := failSlot(t, url, slot); exists {
		t.Errorf("a failed start left slot %s behind", slot)
	}
}

// tlsItems creates the captured table of these tests.
func tlsItems(t *testing.T, url string) {
	t.Helper()
	pgtest.Exec(t, url,
		`CREATE TABLE items (id integer PRIMARY KEY, note text)`,
		`CREATE PUBLICATION flow_publication FOR TABLE items`)
}

// tlsCaptureOne inserts, updates and deletes a row and checks its records.
func tlsCaptureOne(t *testing.T, e *env, opts ...kgo.Opt) {
	t.Helper()
	e.exec(`INSERT INTO items VALUES (1, 'one')`,
		`UPDATE items SET note = 'uno' WHERE id = 1`,
		`DELETE FROM items WHERE id = 1`)
	got := consumeFrom(t, e.brokers, e.prefix+".public.items", 4, 30*time.Second, opts...)
	checkRecords(t, "items", got, []want{
		{`{"id":1}`, "c", doc{"id": 1.0, "note": "one"}},
		{`{"id":1}`, "u", doc{"id": 1.0, "note": "uno"}},
		{`{"id":1}`, "d", doc{"id": 1.0}},
		{`{"id":1}`, "", nil},
	})
}

// PostgreSQL with a self-signed certificate: with sslmode verify-full and
// sslrootcert naming its CA, pg2kafka captures over TLS (the query and the
// replication connection both); with another CA it stops at once (exit 1)
// with one error naming the certificate problem and sslrootcert.
func TestTLSPostgres(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "pg2kafka test CA")
	srv := tlsStartPostgres(t, ca)

	t.Run("verify-full", func(t *testing.T) {
		t.Parallel()
		url := srv.NewDatabase(t)
		tlsItems(t, url)
		e := &env{t: t, dbURL: url, brokers: kafkatest.Brokers(t), dir: t.TempDir(), prefix: failPrefix()}
		e.useSlot("flow_slot_pg_tls")
		caFile := ca.write(t, e.dir, "ca.crt")
		p := e.run(failConfig(e, configOpts{mutate: tlsSSLConfig("sslmode: verify-full", "sslrootcert: "+caFile)}))
		p.waitReady(t, 60*time.Second)

		// Every connection of pg2kafka, the walsender included, is TLS.
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var total, encrypted, walsenders int
		err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE a.backend_type = 'walsender')
			FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
			WHERE a.datname = $1 AND a.pid <> pg_backend_pid() AND a.client_addr IS NOT NULL`, cfg.Database).Scan(&total, &encrypted, &walsenders)
		if err != nil {
			t.Fatal(err)
		}
		if walsenders == 0 || total != encrypted {
			t.Errorf("pg2kafka's connections: %d, %d of them TLS, %d walsenders; want all TLS, a walsender among them", total, encrypted, walsenders)
		}

		tlsCaptureOne(t, e)
		p.stop(t)
	})

	t.Run("wrong CA", func(t *testing.T) {
		t.Parallel()
		url := srv.NewDatabase(t)
		tlsItems(t, url)
		e := &env{t: t, dbURL: url, brokers: kafkatest.Brokers(t), dir: t.TempDir(), prefix: failPrefix()}
		slot := e.useSlot("flow_slot_pg_wrong_ca")
		other := tlsNewCA(t, "some other CA").write(t, e.dir, "other-ca.crt")
		code, out := e.runToExit(failConfig(e, configOpts{mutate: tlsSSLConfig("sslmode: verify-full", "sslrootcert: "+other)}), 60*time.Second)
		failCheckOutput(t, code, 1, 1, out, "certificate", "sslrootcert")
		msg := strings.ToLower(out)
		if !strings.Contains(msg, "tls") && !strings.Contains(msg, "ssl") {
			t.Errorf("the error names neither TLS nor SSL")
		}
		tlsNoSlot(t, url, slot)
	})
}

// kfake with TLS: pg2kafka with kafka.tls.ca_file naming the broker's CA
// captures; with another CA it fails (exit 1) with one error naming
// kafka.tls.
func TestTLSKafka(t *testing.T) {
	t.Parallel()
	if kafkatest.External() {
		t.Skip("needs a kfake cluster with TLS")
	}
	ca := tlsNewCA(t, "pg2kafka test Kafka CA")
	start := func(t *testing.T) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(ca.tlsServerConfig(t)))
		if err != nil {
			t.Fatalf("starting kfake with TLS: %v", err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	}

	t.Run("ca_file", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.exec(`CREATE TABLE items (id integer PRIMARY KEY, note text)`, `ALTER PUBLICATION flow_publication ADD TABLE items`)
		e.useSlot("flow_slot_kafka_tls")
		e.brokers = start(t)
		caFile := ca.write(t, e.dir, "kafka-ca.crt")
		e.kafka = []string{"tls: {enabled: true, ca_file: " + caFile + "}"}
		p := e.start(true)
		tlsCaptureOne(t, e, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}))
		p.stop(t)
	})

	t.Run("wrong CA", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.exec(`CREATE TABLE items (id integer PRIMARY KEY, note text)`, `ALTER PUBLICATION flow_publication ADD TABLE items`)
		slot := e.useSlot("flow_slot_kafka_wrong_ca")
		other := tlsNewCA(t, "some other CA").write(t, e.dir, "other-ca.crt")
		code, out := e.runToExit(failConfig(e, configOpts{brokers: start(t), kafka: []string{
			"tls: {enabled: true, ca_file: " + other + "}",
			"connect_timeout: 5s",
		}}), 40*time.Second)
		failCheckOutput(t, code, 1, 1, out, "kafka.tls")
		tlsNoSlot(t, e.dbURL, slot)
	})
}

// kfake with SASL/SCRAM: the right password captures, a wrong one stops
// pg2kafka (exit 1) with one error pointing at kafka.sasl, and no output
// holds either password.
func TestSASLKafka(t *testing.T) {
	t.Parallel()
	if kafkatest.External() {
		t.Skip("needs a kfake cluster with SASL")
	}
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		start := func(t *testing.T) []string {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(mech, "capture", failSASLPassword))
			if err != nil {
				t.Fatalf("starting kfake with SASL: %v", err)
			}
			t.Cleanup(c.Close)
			return c.ListenAddrs()
		}
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.exec(`CREATE TABLE items (id integer PRIMARY KEY, note text)`, `ALTER PUBLICATION flow_publication ADD TABLE items`)
			e.useSlot("flow_slot_sasl_" + strings.ReplaceAll(strings.ToLower(mech), "-", "_"))
			e.brokers = start(t)
			p := e.run(failConfig(e, configOpts{kafka: []string{
				"sasl: {mechanism: " + mech + ", username: capture, password: " + failSASLPassword + "}",
			}}))
			p.waitReady(t, 60*time.Second)
			auth := scram.Auth{User: "capture", Pass: failSASLPassword}
			var m sasl.Mechanism = auth.AsSha256Mechanism()
			if mech == "SCRAM-SHA-512" {
				m = auth.AsSha512Mechanism()
			}
			tlsCaptureOne(t, e, kgo.SASL(m))
			p.stop(t)
			failCheckOutput(t, p.cmd.ProcessState.ExitCode(), 0, 0, p.output())
		})
		t.Run(mech+" wrong password", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.exec(`CREATE TABLE items (id integer PRIMARY KEY, note text)`, `ALTER PUBLICATION flow_publication ADD TABLE items`)
			slot := e.useSlot("flow_slot_sasl_wrong_" + strings.ReplaceAll(strings.ToLower(mech), "-", "_"))
			code, out := e.runToExit(failConfig(e, configOpts{brokers: start(t), kafka: []string{
				"sasl: {mechanism: " + mech + ", username: capture, password: " + failWrongPassword + "}",
				"connect_timeout: 5s",
			}}), 40*time.Second)
			failCheckOutput(t, code, 1, 1, out, "kafka.sasl", "SASL", "password")
			tlsNoSlot(t, e.dbURL, slot)
		})
	}
}
