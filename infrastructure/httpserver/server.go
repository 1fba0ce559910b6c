// Package httpserver builds the Echo instance and runs it: server timeouts,
// a listener bound at start (so a taken port fails the start, not later),
// and a graceful stop that lets in-flight requests finish.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// Options are the server's listen address and timeouts.
type Options struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
}

// NewEcho returns a bare Echo instance without banner output.
func NewEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	return e
}

// Server runs an http.Server for an Echo instance.
type Server struct {
	opts     Options
	srv      *http.Server
	log      *slog.Logger
	addr     atomic.Value // net.Addr once listening
	draining atomic.Bool
	done     chan struct{}
}

// New returns a Server for handler; it does not listen yet.
func New(handler http.Handler, o Options, log *slog.Logger) *Server {
	s := &Server{opts: o, log: log, done: make(chan struct{})}
	s.srv = &http.Server{
		Addr:              o.Addr,
		Handler:           handler,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Start binds the listener and serves in the background.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	s.addr.Store(ln.Addr())
	s.log.Info("listening", slog.String("addr", ln.Addr().String()))
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server stopped", slog.String("error", err.Error()))
		}
	}()
	return nil
}

// Stop stops accepting connections and waits, up to the shutdown timeout,
// for in-flight requests to finish; idle keep-alive connections are closed.
func (s *Server) Stop(ctx context.Context) error {
	s.draining.Store(true)
	if s.opts.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.ShutdownTimeout)
		defer cancel()
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Out of time: cut the connections still open rather than leave
		// them to a process that is about to close its database.
		_ = s.srv.Close()
	}
	if s.Addr() != nil {
		<-s.done
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("server stopped gracefully")
	return nil
}

// Draining reports whether a stop has begun; readiness turns false then, so
// a load balancer stops sending new requests.
func (s *Server) Draining() bool { return s.draining.Load() }

// Addr is the bound address, nil before Start.
func (s *Server) Addr() net.Addr {
	a, _ := s.addr.Load().(net.Addr)
	return a
}
