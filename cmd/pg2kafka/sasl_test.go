package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pg2kafka/pg2kafka/config"
)

// Each configured mechanism is built with its Kafka name; AWS_MSK_IAM signs
// a kafka-cluster:Connect request with the configured or environment keys.
func TestSASLMechanisms(t *testing.T) {
	for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"} {
		mech, err := saslMechanism(config.SASL{Mechanism: m, Username: "AKIDEXAMPLE", Password: "secret"})
		if err != nil || mech.Name() != m {
			t.Fatalf("%s: mechanism %v, %v", m, mech, err)
		}
	}
	mech, _ := saslMechanism(config.SASL{Mechanism: "AWS_MSK_IAM", Username: "AKIDEXAMPLE", Password: "secret"})
	_, first, err := mech.Authenticate(context.Background(), "b-1.example.kafka.us-east-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	var msg map[string]string
	if err := json.Unmarshal(first, &msg); err != nil {
		t.Fatalf("MSK IAM handshake is not JSON: %s", first)
	}
	if msg["action"] != "kafka-cluster:Connect" || !strings.HasPrefix(msg["x-amz-credential"], "AKIDEXAMPLE/") || msg["x-amz-signature"] == "" {
		t.Errorf("MSK IAM handshake %v lacks the signed connect action", msg)
	}
	if strings.Contains(string(first), "secret") {
		t.Error("the secret key travels in the handshake")
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	mech, _ = saslMechanism(config.SASL{Mechanism: "AWS_MSK_IAM"})
	if _, _, err := mech.Authenticate(context.Background(), "h:9098"); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("no credentials: error %v, want one naming the variables", err)
	}
	if _, err := saslMechanism(config.SASL{Mechanism: "GSSAPI"}); err == nil {
		t.Error("GSSAPI accepted")
	}
}
