package netconf_test

import (
	"context"
	"testing"
	"time"
)

func TestWatchLinksSeesLinksComeAndGo(t *testing.T) {
	h, ns := testLink(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errc, err := h.WatchLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, match func(name string, gone bool) bool) {
		t.Helper()
		timeout := time.After(10 * time.Second) // bounds a hang; it measures nothing
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("waiting for %s: the watch ended: %v", what, <-errc)
				}
				if match(ev.Link.Name, ev.Gone) {
					return
				}
			case <-timeout:
				t.Fatalf("no event for %s", what)
			}
		}
	}
	waitFor("the existing dh0", func(name string, gone bool) bool { return name == "dh0" && !gone })
	ns.IP(t, "link", "add", "hot0", "type", "veth", "peer", "name", "hot0p")
	waitFor("hot0 appearing", func(name string, gone bool) bool { return name == "hot0" && !gone })
	ns.IP(t, "link", "del", "hot0")
	waitFor("hot0 going", func(name string, gone bool) bool { return name == "hot0" && gone })
	cancel()
	for range events {
	}
	if err := <-errc; err != nil {
		t.Errorf("the watch ended with %v after its context was cancelled", err)
	}
}
