package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// pollQuery reads, in one round trip, the server's WAL insert and write
// positions (the replay position on a standby) and the slot's positions.
// The LEFT JOIN yields one row even when the slot is missing. Columns that
// not every supported version has are read through to_jsonb(s), NULL where
// missing: wal_status (PostgreSQL 13+), conflicting (16+, a logical slot on
// a standby invalidated by recovery) and invalidation_reason (17+, set
// whatever invalidated the slot).
const pollQuery = `SELECT
	(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text,
	(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
	s.slot_name IS NOT NULL, s.restart_lsn::text, s.confirmed_flush_lsn::text, to_jsonb(s) ->> 'wal_status',
	coalesce((to_jsonb(s) ->> 'conflicting')::boolean, false) OR to_jsonb(s) ->> 'invalidation_reason' IS NOT NULL
FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`

// pollTimeout bounds one poll's connection and query.
const pollTimeout = 10 * time.Second

// poller measures the lag and slot gauges on a connection of its own.
type poller struct {
	m      *Metrics
	conn   *pgx.Conn
	failed bool // the last poll failed (logged once per failure streak)
}

// run polls at once and then every poll interval until ctx ends.
func (p *poller) run(ctx context.Context) {
	defer p.close()
	t := time.NewTicker(p.m.opts.pollInterval)
	defer t.Stop()
	for {
		p.pollOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *poller) pollOnce(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	err := p.poll(pctx)
	if ctx.Err() != nil {
		return
	}
	log := p.m.opts.logger
	if err != nil {
		p.m.pollErrors.Inc()
		p.close() // reconnect next time
		if !p.failed {
			log.Warn().Err(err).Msg("metrics: polling PostgreSQL for replication lag failed; retrying every poll interval")
		}
		p.failed = true
		return
	}
	if p.failed {
		log.Info().Msg("metrics: polling PostgreSQL for replication lag works again")
	}
	p.failed = false
}

// poll connects if needed and takes one measurement.
func (p *poller) poll(ctx context.Context) error {
	if p.conn == nil {
		conn, err := connect(ctx, p.m.opts.connString)
		if err != nil {
			return err
		}
		p.conn = conn
	}
	var insert, current, restart, confirmed, walStatus *string
	var exists, invalidated bool
	if err := p.conn.QueryRow(ctx, pollQuery, p.m.opts.slot).Scan(&insert, &current, &exists, &restart, &confirmed, &walStatus, &invalidated); err != nil {
		return fmt.Errorf("reading the WAL position and slot %q: %w", p.m.opts.slot, err)
	}
	at := p.m.opts.now()
	m := p.m
	lost := !exists || restart == nil || (walStatus != nil && *walStatus == "lost") || invalidated
	if lost && m.cursor.Load() != 0 {
		m.slotLost.Set(1)
	} else {
		m.slotLost.Set(0)
	}
	insertLSN, err := parseLSN(insert)
	if err != nil {
		return err
	}
	currentLSN, err := parseLSN(current)
	if err != nil {
		return err
	}
	restartLSN, err := parseLSN(restart)
	if err != nil {
		return err
	}
	confirmedLSN, err := parseLSN(confirmed)
	if err != nil {
		return err
	}
	if restartLSN != 0 && currentLSN > restartLSN {
		m.retainedWAL.Set(float64(currentLSN - restartLSN))
	} else {
		m.retainedWAL.Set(0)
	}
	if insertLSN != 0 {
		m.observeWAL(at, insertLSN, confirmedLSN)
	}
	return nil
}

func (p *poller) close() {
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.conn.Close(ctx)
		p.conn = nil
	}
}

// connect opens the poller's connection: identified as pg2kafka-metrics,
// with a statement timeout so a stuck server cannot pin it.
func connect(ctx context.Context, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("parsing the PostgreSQL connection settings: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "pg2kafka-metrics"
	cfg.RuntimeParams["statement_timeout"] = "5000"
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > pollTimeout {
		cfg.ConnectTimeout = pollTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d as %q: %w", cfg.Host, cfg.Port, cfg.User, err)
	}
	return conn, nil
}

// parseLSN parses a nullable pg_lsn text; NULL is 0.
func parseLSN(s *string) (uint64, error) {
	if s == nil {
		return 0, nil
	}
	l, err := pglogrepl.ParseLSN(*s)
	if err != nil {
		return 0, fmt.Errorf("parsing LSN %q: %w", *s, err)
	}
	return uint64(l), nil
}
