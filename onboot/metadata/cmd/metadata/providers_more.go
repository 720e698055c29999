package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"

	"github.com/goccy/go-yaml"
)

// The servers of the providers that LinuxKit's metadata package knows
// besides those in providers.go.
const (
	scalewayServer  = "http://169.254.42.42"
	metaldataServer = "http://metaldata"
	vmwareRPCTool   = "vmware-rpctool"
)

// keyList is a list of ssh keys that a provider gives as a JSON list or
// as one string of lines: Vultr's documentation shows both.
type keyList []string

func (k *keyList) UnmarshalJSON(data []byte) error {
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		*k = list
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("ssh keys are neither a list nor a string: %s", data)
	}
	*k = lines(s)
	return nil
}

// vultr reads Vultr's metadata API: the whole tree is /v1.json, and the
// user data is served, decoded, on the EC2 path.
func vultr(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base}
		doc, err := c.must(ctx, "/v1.json")
		if err != nil {
			return nil, err
		}
		var m struct {
			Hostname   string  `json:"hostname"`
			PublicKeys keyList `json:"public-keys"`
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("GET %s/v1.json: %w", base, err)
		}
		md := &metadata{hostname: cleanHostname(m.Hostname), sshKeys: m.PublicKeys}
		if md.userdata, _, err = c.get(ctx, "/latest/user-data"); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// scaleway reads Scaleway's metadata API. Its user data is served only
// to a connection from a source port below 1024, which proves the asker
// is root; that takes CAP_NET_BIND_SERVICE, which the image's entry
// grants.
func scaleway(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base}
		doc, err := c.must(ctx, "/conf?format=json")
		if err != nil {
			return nil, err
		}
		var m struct {
			Hostname string `json:"hostname"`
			Keys     []struct {
				Key string `json:"key"`
			} `json:"ssh_public_keys"`
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("GET %s/conf: %w", base, err)
		}
		md := &metadata{hostname: cleanHostname(m.Hostname)}
		for _, k := range m.Keys {
			md.sshKeys = append(md.sshKeys, lines(k.Key)...)
		}
		privileged := &client{base: base, http: &http.Client{Transport: &http.Transport{
			DialContext:       dialFromPrivilegedPort,
			DisableKeepAlives: true, // each connection holds one of few ports
		}}}
		if md.userdata, _, err = privileged.get(ctx, "/user_data/cloud-init"); err != nil {
			return nil, fmt.Errorf("scaleway user data: %w", err)
		}
		return md, nil
	}
}

// dialFromPrivilegedPort connects from the first free source port below
// 1024, from the top down.
func dialFromPrivilegedPort(ctx context.Context, network, addr string) (net.Conn, error) {
	var last error
	for port := 1023; port > 0; port-- {
		d := net.Dialer{LocalAddr: &net.TCPAddr{Port: port}}
		conn, err := d.DialContext(ctx, network, addr)
		switch {
		case err == nil:
			return conn, nil
		case errors.Is(err, syscall.EACCES):
			return nil, fmt.Errorf("connect to %s from a port below 1024: %w (the container needs CAP_NET_BIND_SERVICE)", addr, err)
		case errors.Is(err, syscall.EADDRINUSE), errors.Is(err, syscall.EADDRNOTAVAIL):
			last = err // taken, or in TIME_WAIT to this server: the next
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("connect to %s: no free source port below 1024: %w", addr, last)
}

// metaldata reads a metaldata server, a small HTTP metadata service for
// bare metal that the network's DNS names "metaldata".
func metaldata(base string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		c := &client{base: base}
		host, err := c.must(ctx, "/get/meta/hostname")
		if err != nil {
			return nil, err
		}
		md := &metadata{hostname: cleanHostname(string(host))}
		keys, _, err := c.get(ctx, "/get/meta/authorized-keys")
		if err != nil {
			return nil, err
		}
		md.sshKeys = lines(string(keys))
		if md.userdata, _, err = c.get(ctx, "/get/user"); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// errNoRPCTool is why VMware cannot be read here: its guestinfo is
// reached through the hypervisor's backdoor, which open-vm-tools'
// vmware-rpctool speaks; minikit/metadata does not carry open-vm-tools
// (glib, OpenSSL, Python's lsb-release: ten times the image) and no
// maintained Go module for the backdoor is available to build with.
var errNoRPCTool = errors.New("VMware's guestinfo is read with vmware-rpctool (open-vm-tools), which this image does not carry; add it to a derived image to use this provider")

// vmware reads VMware's guestinfo.metadata and guestinfo.userdata, as
// cloud-init's VMware datasource and LinuxKit define them, through tool
// (vmware-rpctool). The metadata is YAML or JSON with local-hostname and
// public-keys; each value may be base64 or gzip+base64 as its
// .encoding key says.
func vmware(tool string) func(context.Context) (*metadata, error) {
	return func(ctx context.Context) (*metadata, error) {
		path, err := exec.LookPath(tool)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errAbsent, errNoRPCTool)
		}
		g := guestinfo{tool: path}
		meta, okMeta, err := g.get(ctx, "guestinfo.metadata")
		if err != nil {
			return nil, err
		}
		userdata, okUser, err := g.get(ctx, "guestinfo.userdata")
		if err != nil {
			return nil, err
		}
		if !okMeta && !okUser {
			return nil, fmt.Errorf("%w: no guestinfo.metadata nor guestinfo.userdata", errAbsent)
		}
		md := &metadata{}
		if okUser {
			md.userdata = userdata
		}
		if okMeta {
			var m struct {
				Hostname   string  `yaml:"local-hostname"`
				PublicKeys keyList `yaml:"public-keys"`
			}
			if err := yaml.Unmarshal(meta, &m); err != nil {
				return nil, fmt.Errorf("guestinfo.metadata: %w", err)
			}
			md.hostname, md.sshKeys = cleanHostname(m.Hostname), m.PublicKeys
		}
		return md, nil
	}
}

// guestinfo asks vmware-rpctool for guestinfo keys.
type guestinfo struct{ tool string }

// get returns the decoded value of key; false when it is not set (the
// tool fails, as it also does outside VMware).
func (g guestinfo) get(ctx context.Context, key string) ([]byte, bool, error) {
	raw, ok := g.info(ctx, key)
	if !ok {
		return nil, false, nil
	}
	enc, _ := g.info(ctx, key+".encoding")
	data, err := decodeGuestinfo(raw, strings.TrimSpace(string(enc)))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", key, err)
	}
	// An unset value reads as a space, or as cloud-init's YAML "---".
	if s := strings.TrimSpace(string(data)); s == "" || s == "---" {
		return nil, false, nil
	}
	return data, true, nil
}

func (g guestinfo) info(ctx context.Context, key string) ([]byte, bool) {
	out, err := exec.CommandContext(ctx, g.tool, "info-get "+key).Output()
	if err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(out, []byte("\n")), true
}

// decodeGuestinfo undoes a value's encoding, within maxItem: a gzip'd
// value could otherwise unpack to any size.
func decodeGuestinfo(raw []byte, encoding string) ([]byte, error) {
	switch encoding {
	case "", "raw":
		return raw, nil
	case "base64", "b64":
		return readCapped(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(raw)), maxItem)
	case "gzip+base64", "gz+b64":
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(raw)))
		if err != nil {
			return nil, err
		}
		return readCapped(zr, maxItem)
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
