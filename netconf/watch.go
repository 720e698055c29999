package netconf

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkEvent is a link that exists, appeared or changed, or (Gone) was
// removed.
type LinkEvent struct {
	Link Link
	Gone bool
}

// WatchLinks reports every link that exists now, then every change, until
// ctx ends. The channel closes when ctx ends or the subscription fails;
// errc then says why (nil after ctx ended).
func (h *Handle) WatchLinks(ctx context.Context) (events <-chan LinkEvent, errc <-chan error, err error) {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	failed := make(chan error, 1)
	opts := netlink.LinkSubscribeOptions{
		Namespace:    h.subscribeNS(),
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case failed <- err:
			default:
			}
		},
	}
	if err := netlink.LinkSubscribeWithOptions(updates, done, opts); err != nil {
		return nil, nil, fmt.Errorf("watch links: %w", err)
	}
	out := make(chan LinkEvent)
	outErr := make(chan error, 1)
	go func() {
		defer close(out)
		defer func() {
			close(done)
			// Let netlink's reader finish a send it may be blocked in.
			go func() {
				for range updates {
				}
			}()
		}()
		for {
			select {
			case <-ctx.Done():
				outErr <- nil
				return
			case u, ok := <-updates:
				if !ok {
					select {
					case err := <-failed:
						outErr <- fmt.Errorf("watch links: %w", err)
					default:
						outErr <- fmt.Errorf("watch links: the subscription ended")
					}
					return
				}
				ev := LinkEvent{Link: linkFromNetlink(u.Link), Gone: u.Header.Type == unix.RTM_DELLINK}
				select {
				case out <- ev:
				case <-ctx.Done():
					outErr <- nil
					return
				}
			}
		}
	}()
	return out, outErr, nil
}
