package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
)

// provider is one source of metadata. fetch returns errAbsent (wrapped)
// when the provider is not there at all.
type provider struct {
	name, alias string
	fetch       func(ctx context.Context) (*metadata, error)
	usable      func() error // nil, or whether this image can ask it at all
}

var errAbsent = errors.New("not present")

// The metadata servers, as their providers document them.
const (
	linkLocal   = "http://169.254.169.254"
	gcpServer   = "http://metadata.google.internal"
	equinixBase = "https://metadata.platformequinix.com"
)

// providers is every provider, in the order they are preferred: a CD-ROM
// is what a user attached on purpose, so it comes first.
func providers() []provider {
	return []provider{
		cdromProvider("/dev", "/sys/class/block"),
		// Hetzner serves the EC2 paths too: its own come first, so that
		// it is named for what it is.
		{name: "hetzner", fetch: hetzner(linkLocal)},
		{name: "vultr", fetch: vultr(linkLocal)}, // serves the EC2 paths too
		{name: "aws", fetch: ec2(linkLocal)},
		{name: "gcp", fetch: gcp(gcpServer)},
		{name: "openstack", fetch: openstack(linkLocal)},
		{name: "digitalocean", fetch: digitalocean(linkLocal)},
		{name: "scaleway", fetch: scaleway(scalewayServer)},
		{name: "equinixmetal", alias: "packet", fetch: equinix(equinixBase)},
		{name: "metaldata", fetch: metaldata(metaldataServer)},
		{name: "vmware", fetch: vmware(vmwareRPCTool), usable: func() error {
			if _, err := exec.LookPath(vmwareRPCTool); err != nil {
				return errNoRPCTool
			}
			return nil
		}},
	}
}

// client asks one metadata server.
type client struct {
	base   string
	header http.Header
	http   *http.Client // http.DefaultClient when nil
}

// get fetches base+path. A server that cannot be reached is errAbsent; a
// 404 is (nil, false, nil), so that optional items can be left out.
func (c *client) get(ctx context.Context, path string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, false, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", errAbsent, err)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body, maxItem)
	switch {
	case err != nil:
		return nil, false, fmt.Errorf("GET %s: %w", req.URL, err)
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	return body, true, nil
}

// maxItem bounds one item from a metadata server: the largest user data
// a provider takes is GCP's 256 KiB (EC2's is 16 KiB); four times that is
// generous, and more is not metadata.
const maxItem = 1 << 20

// readCapped reads r whole, or fails when it holds more than max bytes:
// cut short, user data would be taken for something else.
func readCapped(r io.Reader, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > max {
		return nil, fmt.Errorf("more than %d bytes", max)
	}
	return data, nil
}

// must is get for an item the provider always has: its absence means
// this is not that provider.
func (c *client) must(ctx context.Context, path string) ([]byte, error) {
	body, ok, err := c.get(ctx, path)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no %s", errAbsent, path)
	}
	return body, err
}

// ec2 reads the EC2 metadata API (AWS, and Hetzner's compatible one),
// with an IMDSv2 session token when the server gives one.
func ec2(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base, header: http.Header{}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "300")
		if resp, err := http.DefaultClient.Do(req); err != nil {
			return nil, fmt.Errorf("%w: %v", errAbsent, err)
		} else {
			token, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.header.Set("X-aws-ec2-metadata-token", strings.TrimSpace(string(token)))
			}
		}
		host, err := c.must(ctx, "/latest/meta-data/hostname")
		if err != nil {
			return nil, err
		}
		md := &metadata{hostname: cleanHostname(string(host))}
		if key, ok, err := c.get(ctx, "/latest/meta-data/public-keys/0/openssh-key"); err != nil {
			return nil, err
		} else if ok {
			md.sshKeys = lines(string(key))
		}
		if md.userdata, _, err = c.get(ctx, "/latest/user-data"); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// gcp reads Google Compute Engine's metadata server.
func gcp(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base + "/computeMetadata/v1", header: http.Header{"Metadata-Flavor": {"Google"}}}
		host, err := c.must(ctx, "/instance/hostname")
		if err != nil {
			return nil, err
		}
		md := &metadata{hostname: cleanHostname(string(host))}
		// ssh-keys lines are USER:KEY; the user is the image's business.
		for _, path := range []string{"/project/attributes/ssh-keys", "/instance/attributes/ssh-keys"} {
			keys, _, err := c.get(ctx, path)
			if err != nil {
				return nil, err
			}
			for _, l := range lines(string(keys)) {
				if _, key, ok := strings.Cut(l, ":"); ok {
					md.sshKeys = append(md.sshKeys, key)
				}
			}
		}
		for _, path := range []string{"/instance/attributes/user-data", "/instance/attributes/userdata"} {
			data, ok, err := c.get(ctx, path)
			if err != nil {
				return nil, err
			}
			if ok {
				md.userdata = data
				break
			}
		}
		return md, nil
	}
}

// openstack reads OpenStack's meta_data.json.
func openstack(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base + "/openstack/latest"}
		doc, err := c.must(ctx, "/meta_data.json")
		if err != nil {
			return nil, err
		}
		var m struct {
			Hostname   string            `json:"hostname"`
			PublicKeys map[string]string `json:"public_keys"`
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("meta_data.json: %w", err)
		}
		md := &metadata{hostname: cleanHostname(m.Hostname)}
		for _, name := range sortedKeys(m.PublicKeys) {
			md.sshKeys = append(md.sshKeys, lines(m.PublicKeys[name])...)
		}
		if md.userdata, _, err = c.get(ctx, "/user_data"); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// hetzner reads Hetzner Cloud's metadata API; public-keys is a JSON list.
func hetzner(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base + "/hetzner/v1"}
		host, err := c.must(ctx, "/metadata/hostname")
		if err != nil {
			return nil, err
		}
		md := &metadata{hostname: cleanHostname(string(host))}
		if keys, ok, err := c.get(ctx, "/metadata/public-keys"); err != nil {
			return nil, err
		} else if ok {
			if err := json.Unmarshal(keys, &md.sshKeys); err != nil {
				return nil, fmt.Errorf("public-keys: %w", err)
			}
		}
		if md.userdata, _, err = c.get(ctx, "/userdata"); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// digitalocean reads DigitalOcean's metadata API.
func digitalocean(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base + "/metadata/v1"}
		host, err := c.must(ctx, "/hostname")
		if err != nil {
			return nil, err
		}
		md := &metadata{hostname: cleanHostname(string(host))}
		keys, _, err := c.get(ctx, "/public-keys")
		if err != nil {
			return nil, err
		}
		md.sshKeys = lines(string(keys))
		if md.userdata, _, err = c.get(ctx, "/user-data"); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// equinix reads Equinix Metal's (formerly Packet's) metadata service.
func equinix(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base}
		doc, err := c.must(ctx, "/metadata")
		if err != nil {
			return nil, err
		}
		var m struct {
			Hostname string   `json:"hostname"`
			SSHKeys  []string `json:"ssh_keys"`
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		md := &metadata{hostname: cleanHostname(m.Hostname), sshKeys: m.SSHKeys}
		if md.userdata, _, err = c.get(ctx, "/userdata"); err != nil {
			return nil, err
		}
		return md, nil
	}
}
