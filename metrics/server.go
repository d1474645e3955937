package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serverRun is what Start started.
type serverRun struct {
	ln     net.Listener
	http   *http.Server
	served chan struct{} // closed when Serve returns
}

// Handler returns the HTTP handler of /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if reason := m.NotReadyReason(); reason != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + reason + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// NotReadyReason says why /readyz fails, or "" when it succeeds: the
// capture must stream (Ready called, NotReady not since) and the last
// measured replication lag must be below the threshold. Before the first
// lag measurement only streaming counts.
func (m *Metrics) NotReadyReason() string {
	if !m.ready.Load() {
		return "the capture is not streaming"
	}
	if limit := m.opts.readyMaxLag; limit > 0 && m.lagKnown.Load() {
		if lag := m.lagBytesV.Load(); lag >= uint64(limit) {
			return fmt.Sprintf("replication lag %d bytes is at or above %d", lag, limit)
		}
	}
	return ""
}

// Start listens on listen (host:port; "" serves no HTTP) and serves
// Handler there. A listen error (a port in use, say) is returned at once.
// The server runs until Stop. Start may be called once.
func (m *Metrics) Start(listen string) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.started {
		return errors.New("metrics: already started")
	}
	r := &serverRun{served: make(chan struct{})}
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("http.listen %s: %w", listen, err)
		}
		r.ln = ln
		r.http = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			defer close(r.served)
			if err := r.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.opts.logger.Error().Err(err).Msg("metrics: HTTP server failed")
			}
		}()
		m.opts.logger.Info().Str("listen", ln.Addr().String()).Msg("serving /metrics, /healthz and /readyz")
	} else {
		close(r.served)
	}
	m.srv, m.started = r, true
	return nil
}

// Addr returns the address the HTTP server listens on, or "" if none.
func (m *Metrics) Addr() string {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.srv == nil || m.srv.ln == nil {
		return ""
	}
	return m.srv.ln.Addr().String()
}

// Stop shuts the HTTP server down gracefully: it
// stops accepting, lets requests in flight finish within the shutdown
// timeout, then closes what is left. It marks the capture not ready first.
// Stop without Start, or a second Stop, does nothing.
func (m *Metrics) Stop() error {
	m.runMu.Lock()
	r := m.srv
	m.srv = nil
	m.runMu.Unlock()
	if r == nil {
		return nil
	}
	m.NotReady()
	var err error
	if r.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.shutdownTimeout)
		defer cancel()
		if err = r.http.Shutdown(ctx); err != nil {
			_ = r.http.Close()
			err = fmt.Errorf("metrics: shutting the HTTP server down: %w", err)
		}
	}
	<-r.served
	return err
}
