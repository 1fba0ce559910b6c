package verify

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// Refusal says why a request was turned away, for an operator: the code the
// client got and the reason behind it ("wrong aud", "exp passed", "unknown
// kid", "key set: ..."). It never holds the token, nor any part of it.
type Refusal struct {
	// Code is the error code answered (TOKEN_INVALID, TOKEN_EXPIRED, ...).
	Code string
	// Status is the HTTP status of that answer.
	Status int
	// Reason is the cause, more precise than the code.
	Reason string
	// Method and Path name the request, when the refusal was for one
	// (Middleware, the Require guards, Authenticate); empty from Verify.
	Method, Path string
}

// requestKey carries the request a refusal is for, from Authenticate to
// Verify, so the report can name it.
type requestKey struct{}

// reported wraps a refusal that was reported already, so WriteError does
// not report it a second time; it unwraps to the refusal, so errors.Is and
// AsError see through it.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// reports tells whether anyone listens for refusals.
func (v *Verifier) reports() bool { return v.cfg.OnRefuse != nil || v.cfg.Logger != nil }

// refused reports err, a refusal, to Config.OnRefuse and Config.Logger once,
// and returns it; a nil err reports nothing.
func (v *Verifier) refused(ctx context.Context, r *http.Request, err error) error {
	var done reported
	if err == nil || !v.reports() || errors.As(err, &done) {
		return err
	}
	if r == nil {
		r, _ = ctx.Value(requestKey{}).(*http.Request)
	}
	e := AsError(err)
	rf := Refusal{Code: e.Code, Status: e.Status, Reason: e.Message}
	var ce *causeError
	if errors.As(err, &ce) {
		rf.Reason = ce.cause
	}
	if r != nil {
		rf.Method, rf.Path = r.Method, r.URL.Path
	}
	if v.cfg.OnRefuse != nil {
		v.cfg.OnRefuse(ctx, rf)
	}
	if v.cfg.Logger != nil {
		// A verifier that cannot judge tokens is the operator's problem;
		// a client's bad token is routine.
		level := slog.LevelInfo
		if e.Status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("code", rf.Code), slog.String("reason", rf.Reason)}
		if r != nil {
			attrs = append(attrs, slog.String("method", rf.Method), slog.String("path", rf.Path))
		}
		v.cfg.Logger.LogAttrs(ctx, level, "gatehouse token refused", attrs...)
	}
	return reported{err}
}
