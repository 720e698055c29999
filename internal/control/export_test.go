package control

import (
	"context"
	"net/http"
	"time"
)

// The tests are of package control_test, so that they can serve the API
// with controltest as svcctl's tests do; these reach inside.

// Handler is the server's handler as a net/http one, for requests made
// without a connection (httptest): the request's method and target go
// through the server's own parsing.
func (s *Server) Handler() http.Handler { return httpHandler(s.handler()) }

// WithCaller returns ctx as the context of a request of c's.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// RecoverPanics is the server's recovery around h, a net/http handler.
func RecoverPanics(h http.Handler) http.Handler {
	return httpHandler(recoverPanics(func(w responseWriter, r *request) {
		h.ServeHTTP(w.(*httpWriter).w, r.ctx.Value(httpRequestKey{}).(*http.Request))
	}))
}

var ProcCaller = procCaller

type httpRequestKey struct{}

func httpHandler(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.RequestURI
		if target == "" {
			target = r.URL.RequestURI()
		}
		hw := &httpWriter{w: w, rc: http.NewResponseController(w)}
		req, err := newRequest(context.WithValue(r.Context(), httpRequestKey{}, r), r.Method, target)
		if err != nil {
			writeError(hw, 400, err.Error())
			return
		}
		h(hw, req)
	})
}

// httpWriter is a responseWriter over a net/http one.
type httpWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (h *httpWriter) Write(p []byte) (int, error)        { return h.w.Write(p) }
func (h *httpWriter) setHeader(key, value string)        { h.w.Header().Set(key, value) }
func (h *httpWriter) writeHeader(code int)               { h.w.WriteHeader(code) }
func (h *httpWriter) flush() error                       { return h.rc.Flush() }
func (h *httpWriter) setWriteDeadline(t time.Time) error { return h.rc.SetWriteDeadline(t) }
