package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ControlSocket is where init serves its control API (HTTP with JSON).
const ControlSocket = "/run/minikit/control.sock"

type peerKey struct{}

// serveControl serves the control API on a unix socket that only root may
// use: the socket is 0600 and every connection's peer credentials are
// checked.
func (in *initSys) serveControl(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{
		Handler:           in.controlHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cred, err := peerCred(c); err == nil {
				return context.WithValue(ctx, peerKey{}, cred)
			}
			return ctx
		},
	}
	in.goSafe("control API", func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("control API stopped", "err", err)
		}
	})
	return nil
}

func peerCred(c net.Conn) (*unix.Ucred, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

func (in *initSys) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		list := make([]ServiceStatus, 0, len(in.services))
		for _, s := range in.services {
			list = append(list, s.status())
		}
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("GET /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		s := in.service(r.PathValue("name"))
		if s == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no service %q", r.PathValue("name")))
			return
		}
		writeJSON(w, http.StatusOK, s.status())
	})
	mux.HandleFunc("POST /v1/services/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name, action := r.PathValue("name"), r.PathValue("action")
		s := in.service(name)
		if s == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no service %q", name))
			return
		}
		switch action {
		case "stop", "start", "restart":
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q (start, stop, restart)", action))
			return
		}
		logAction(r, action, name)
		if action != "start" {
			s.stop(r.Context())
		}
		if action != "stop" {
			s.mu.Lock()
			running := s.done != nil && !isClosed(s.done)
			s.mu.Unlock()
			if !running {
				in.goSafe("supervise "+s.name, func() { in.supervise(s) })
			}
		}
		writeJSON(w, http.StatusOK, s.status())
	})
	for _, action := range []string{"poweroff", "reboot"} {
		mux.HandleFunc("POST /v1/"+action, func(w http.ResponseWriter, r *http.Request) {
			logAction(r, action, "")
			writeJSON(w, http.StatusAccepted, map[string]string{"status": action + " requested"})
			// Answer before shutting down: the caller may be a service
			// that is about to be stopped.
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			in.requestShutdown(action)
		})
	}
	return requireRoot(mux)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// requireRoot refuses any caller whose peer credentials are not root's.
func requireRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := r.Context().Value(peerKey{}).(*unix.Ucred)
		if cred == nil || cred.Uid != 0 {
			writeError(w, http.StatusForbidden, "only root may use the control socket")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func logAction(r *http.Request, action, target string) {
	cred, _ := r.Context().Value(peerKey{}).(*unix.Ucred)
	attrs := []any{"action", action}
	if target != "" {
		attrs = append(attrs, "service", target)
	}
	if cred != nil {
		attrs = append(attrs, "uid", cred.Uid, "pid", cred.Pid)
	}
	slog.Info("control: "+action+" "+target, attrs...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
