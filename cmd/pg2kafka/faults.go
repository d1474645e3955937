package main

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/pg2kafka/pg2kafka/source"
)

// faultOf tells what failed ("postgres" or "kafka") and whether a new
// attempt from the last checkpoint may get past it: lost connections,
// server restarts, terminated walsenders, unreachable or restarting
// brokers, transactions the broker aborted. Wrong credentials, missing
// privileges, a lost slot, records Kafka refuses and anything unknown to
// be passing are permanent: they stop the process with their error.
func faultOf(err error) (cause string, transient bool) {
	cause = "postgres"
	var ke *kerr.Error
	if errors.As(err, &ke) || strings.Contains(err.Error(), "kafka:") {
		cause = "kafka"
	}
	switch {
	case errors.Is(err, source.ErrSlotMissing):
		return "postgres", false
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.SaslAuthenticationFailed),
		errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.PolicyViolation):
		return "kafka", false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "57P"), // admin shutdown, crash shutdown, cannot connect now
			strings.HasPrefix(pgErr.Code, "08"), // connection exceptions
			pgErr.Code == "55006",               // object in use (the slot, while a walsender exits)
			pgErr.Code == "53300",               // too many connections
			pgErr.Code == "40001", pgErr.Code == "40P01",
			pgErr.Code == "57014": // statement cancelled (a terminated backend)
			return "postgres", true
		}
		return "postgres", false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.Timeout(err) || isConnectError(err) {
		return cause, true
	}
	if cause == "kafka" {
		// Broker-side failures (coordinator moves, aborted or fenced
		// transactions, unreachable brokers at start-up) pass; the
		// permanent ones are listed above.
		return cause, true
	}
	return cause, false
}

func isConnectError(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	// A refused or reset connection passes; a refused login does not.
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr)
}
