// Command metadata is the onboot program of minikit/metadata, in place of
// LinuxKit's metadata package: it finds the instance's metadata and user
// data — on a CD-ROM, or from the cloud provider's metadata server — and
// writes them under /run/config, where other containers bind what they
// need:
//
//	/run/config/provider                the provider that answered
//	/run/config/hostname                also set as the system's hostname
//	/run/config/ssh/authorized_keys     the instance's ssh keys
//	/run/config/userdata                the user data as given
//	/run/config/DIR/FILE                user data in LinuxKit's JSON form:
//	                                    {"DIR": {"entries": {"FILE": {"perm": "0600", "content": "…"}}}}
//
// User data is taken as hostile: it may add files and directories beside
// the provider's but never replace them (provider, userdata, hostname
// when the provider gives one, ssh/authorized_keys when it gives keys),
// nor write outside the directory, and it is bounded (8 MiB from a
// CD-ROM, 1 MiB from a server, 10000 entries, 32 levels). The whole
// directory is replaced at once, or not at all when anything is wrong.
//
// usage: metadata [-v] [PROVIDER…]   (default: every provider, CD-ROM first)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ConfigDir is where the metadata goes.
const ConfigDir = "/run/config"

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the program, its exit status returned: 2 for a wrong command
// line, 1 when the metadata found could not be written.
func run(args []string, stderr io.Writer) int {
	var level slog.LevelVar
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		Level: &level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey { // init stamps every line already
				return slog.Attr{}
			}
			return a
		},
	})))
	fs := flag.NewFlagSet("metadata", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config", ConfigDir, "where to write the metadata")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to look for a provider")
	verbose := fs.Bool("v", false, "say why each provider that did not answer is taken as absent")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: metadata [-v] [-config DIR] [-timeout D] [PROVIDER…]\nproviders: %s\n", strings.Join(providerNames(), ", "))
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if *verbose {
		level.Set(slog.LevelDebug)
	}
	providers, err := choose(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "metadata:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	md, err := find(ctx, providers)
	if errors.Is(err, errNoProvider) {
		// Not an error for an onboot entry: a system may run anywhere.
		slog.Info("no metadata found", "providers", fs.Args())
		return 0
	}
	if err != nil {
		slog.Error(err.Error())
		return 1
	}
	if err := md.write(*dir); err != nil {
		slog.Error("write metadata: "+err.Error(), "dir", *dir)
		return 1
	}
	slog.Info("metadata written", "provider", md.provider, "dir", *dir, "hostname", md.hostname,
		"ssh_keys", len(md.sshKeys), "userdata_bytes", len(md.userdata))
	if md.hostname != "" {
		if err := unix.Sethostname([]byte(md.hostname)); err != nil {
			slog.Warn("set hostname: "+err.Error(), "hostname", md.hostname)
		}
	}
	return 0
}

// choose returns the providers named, in order, or every provider.
func choose(names []string) ([]provider, error) {
	all := providers()
	if len(names) == 0 {
		return all, nil
	}
	var chosen []provider
	for _, n := range names {
		var p provider
		for _, q := range all {
			if q.name == n || q.alias == n {
				p = q
			}
		}
		if p.name == "" {
			return nil, fmt.Errorf("unknown provider %q (known: %s)", n, strings.Join(providerNames(), ", "))
		}
		// Asked for by name, a provider that cannot work in this image
		// is refused now rather than taken as absent.
		if p.usable != nil {
			if err := p.usable(); err != nil {
				return nil, fmt.Errorf("provider %s: %w", p.name, err)
			}
		}
		chosen = append(chosen, p)
	}
	return chosen, nil
}

func providerNames() []string {
	var names []string
	for _, p := range providers() {
		names = append(names, p.name)
	}
	return names
}

var errNoProvider = errors.New("no provider answered")

// find asks every provider at once and takes the first in order that
// answers: asking one after another would wait out each absent metadata
// server's timeout in turn.
func find(ctx context.Context, ps []provider) (*metadata, error) {
	type answer struct {
		md  *metadata
		err error
	}
	answers := make([]chan answer, len(ps))
	for i, p := range ps {
		answers[i] = make(chan answer, 1)
		go func() {
			md, err := p.fetch(ctx)
			if md != nil {
				md.provider = p.name
			}
			answers[i] <- answer{md, err}
		}()
	}
	for i, p := range ps {
		a := <-answers[i]
		if a.err == nil {
			return a.md, nil
		}
		if errors.Is(a.err, errAbsent) {
			slog.Debug("provider "+p.name+" absent: "+a.err.Error(), "provider", p.name)
		} else {
			// The provider is there but answered wrongly: say so, and
			// let a later one answer if it can.
			slog.Warn("provider "+p.name+": "+a.err.Error(), "provider", p.name)
		}
	}
	return nil, errNoProvider
}
