package metricsserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
)

// Server is the metrics listener. The zero Server is a disabled one: it
// never listens and its Addr is nil.
type Server struct {
	srv *httpserver.Server
}

// New returns a Server that serves metrics at Path and 404 everywhere else,
// with the timeouts and graceful stop of httpserver. It does not listen
// until Start.
func New(metrics http.Handler, o httpserver.Options, log *slog.Logger) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, metrics)
	return &Server{srv: httpserver.New(mux, o, log.With(slog.String("listener", "metrics")))}
}

// Start binds the listener and serves in the background; a taken address
// fails the start. A disabled Server does nothing.
func (s *Server) Start(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Start(ctx)
}

// Stop shuts the listener down gracefully. A disabled Server does nothing.
func (s *Server) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Stop(ctx)
}

// Enabled reports whether a metrics listener is configured.
func (s *Server) Enabled() bool { return s.srv != nil }

// Addr is the bound address, nil before start and when disabled.
func (s *Server) Addr() net.Addr {
	if s.srv == nil {
		return nil
	}
	return s.srv.Addr()
}
