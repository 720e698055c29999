package control_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
	"github.com/minikit/minikit/internal/testenv"
)

// helperEnv makes the test binary a one-request client of a control
// socket instead of running tests: "METHOD PATH SOCKET". The tests run it
// under setpriv so that the caller holds exactly the capabilities a test
// wants, as a container would.
const helperEnv = "MINIKIT_CONTROL_HELPER"

func TestMain(m *testing.M) {
	if req := os.Getenv(helperEnv); req != "" {
		os.Exit(helperRequest(req, os.Stdout))
	}
	if hold := os.Getenv(holdEnv); hold != "" {
		os.Exit(helperHold(hold, os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// holdEnv makes the test binary hold connections to a control socket:
// "N SOCKET". It connects N times and says "held", then "closed" for each
// connection the server closes, and ends when its stdin does.
const holdEnv = "MINIKIT_CONTROL_HOLD"

func helperHold(arg string, stdin io.Reader, out io.Writer) int {
	var n int
	var socket string
	if _, err := fmt.Sscanf(arg, "%d %s", &n, &socket); err != nil {
		fmt.Fprintf(out, "bad %s %q\n", holdEnv, arg)
		return 2
	}
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, s)
	}
	held := make(chan struct{})
	for range n {
		c, err := net.Dial("unix", socket)
		if err != nil {
			say(err.Error())
			return 1
		}
		go func() {
			_, _ = io.Copy(io.Discard, c)
			<-held // "held" comes first
			say("closed")
		}()
	}
	say("held")
	close(held)
	_, _ = io.Copy(io.Discard, stdin)
	return 0
}

// helperRequest sends one request and prints "CODE BODY".
func helperRequest(req string, out io.Writer) int {
	f := strings.Fields(req)
	if len(f) != 3 {
		fmt.Fprintf(out, "bad %s %q\n", helperEnv, req)
		return 2
	}
	c, err := net.Dial("unix", f[2])
	if err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: init\r\nConnection: close\r\n\r\n", f[0], f[1])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(out, "%d %s", resp.StatusCode, body)
	return 0
}

// asCaller runs one request from a process started by setpriv with the
// given arguments (its capabilities) and returns its status and body.
func asCaller(t *testing.T, socket, method, path string, setpriv ...string) (int, string) {
	t.Helper()
	return runCaller(t, socket, method, path, append([]string{"setpriv"}, setpriv...)...)
}

// runCaller runs one request from a process started by the command
// given, and returns its status and body.
func runCaller(t *testing.T, socket, method, path string, wrapper ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(wrapper[0], append(wrapper[1:], os.Args[0])...)
	cmd.Env = append(os.Environ(), helperEnv+"="+method+" "+path+" "+socket)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(wrapper, " "), err, out)
	}
	var code int
	if _, err := fmt.Sscanf(string(out), "%d", &code); err != nil {
		t.Fatalf("the helper said %q", out)
	}
	return code, string(out)
}

// Without capabilities: root's uid alone must not be enough to change
// anything.
var noCaps = []string{"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"}

// only keeps one capability, in the effective set after exec.
func only(capName string) []string {
	return []string{"--inh-caps=-all,+" + capName, "--bounding-set=-all,+" + capName, "--no-new-privs"}
}

// serveToTheKernelsCaller serves the API over b, its callers identified
// as init identifies them, and returns the socket.
func serveToTheKernelsCaller(t *testing.T, b control.Backend) string {
	t.Helper()
	return controltest.Serve(t, b, control.DefaultLimits, nil).Socket
}

func TestACallerWithoutCapabilitiesMayOnlyRead(t *testing.T) {
	testenv.Root(t, "setpriv (apt-get install util-linux)")
	b := webBackend()
	sock := serveToTheKernelsCaller(t, b)

	if code, out := asCaller(t, sock, "GET", "/v1/services", noCaps...); code != 200 {
		t.Errorf("list without capabilities: %s; want 200 (reads are for root)", out)
	}
	for _, path := range []string{"/v1/poweroff", "/v1/reboot", "/v1/services/web/stop", "/v1/services/web/restart", "/v1/services/web/start"} {
		// Fatal: an accepted poweroff would leave the next one waiting.
		if code, out := asCaller(t, sock, "POST", path, noCaps...); code != 403 {
			t.Fatalf("POST %s without capabilities: %s; want 403", path, out)
		}
	}
	select {
	case a := <-b.Powered:
		t.Fatalf("a caller without CAP_SYS_BOOT asked for %s and got it", a)
	default:
	}
	if code, out := asCaller(t, sock, "POST", "/v1/services/web/stop", only("sys_boot")...); code != 403 || !strings.Contains(out, "CAP_SYS_ADMIN") {
		t.Errorf("stop with CAP_SYS_BOOT only: %s; want 403 naming CAP_SYS_ADMIN", out)
	}
	if code, out := asCaller(t, sock, "POST", "/v1/services/web/restart", only("sys_admin")...); code != 200 {
		t.Errorf("restart with CAP_SYS_ADMIN: %s; want 200", out)
	}
	if code, out := asCaller(t, sock, "POST", "/v1/poweroff", only("sys_boot")...); code != 202 {
		t.Errorf("poweroff with CAP_SYS_BOOT: %s; want 202", out)
	}
	if a := <-b.Powered; a != "poweroff" {
		t.Errorf("asked for %q", a)
	}
}

func TestCapabilitiesOfAnotherUserNamespaceDoNotCount(t *testing.T) {
	testenv.Root(t, "unshare (apt-get install util-linux)")
	sock := serveToTheKernelsCaller(t, controltest.NewBackend())
	// Root of its own user namespace holds every capability, there.
	if code, out := runCaller(t, sock, "POST", "/v1/poweroff", "unshare", "--user", "--map-root-user"); code != 403 {
		t.Fatalf("poweroff from a user namespace of its own: %s; want 403", out)
	}
	if code, out := runCaller(t, sock, "GET", "/v1/services", "unshare", "--user", "--map-root-user"); code != 200 {
		t.Errorf("list from a user namespace of its own, as uid 0: %s; want 200", out)
	}
}
