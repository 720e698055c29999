package control

import (
	"context"
	"net/http"
)

// The tests are of package control_test, so that they can serve the API
// with controltest as svcctl's tests do; these reach inside.

// Handler is the server's handler, for requests made without a connection.
func (s *Server) Handler() http.Handler { return s.handler() }

// WithCaller returns ctx as the context of a request of c's.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

var (
	RecoverPanics = recoverPanics
	ProcCaller    = procCaller
)
