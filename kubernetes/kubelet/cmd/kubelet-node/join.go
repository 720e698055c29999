package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"sigs.k8s.io/yaml"
)

// Join is how a node joins its cluster: the "kubernetes" object of the
// machine's user data (JSON or YAML). README.md documents it for users.
type Join struct {
	// Server is the API server's URL, https://HOST[:PORT].
	Server string `json:"server"`
	// CA is the PEM of the certificates the API server's certificate is
	// checked against; kubelet also trusts them for clients (the API
	// server calling it for logs and exec).
	CA string `json:"ca"`
	// Token is a bootstrap token (abcdef.0123456789abcdef): kubelet asks
	// the cluster for its client certificate with it (TLS bootstrap).
	Token string `json:"token,omitempty"`
	// ClientCertificate and ClientKey (PEM) are the node's own credentials,
	// for system:node:NAME in group system:nodes, instead of a token.
	ClientCertificate string `json:"clientCertificate,omitempty"`
	ClientKey         string `json:"clientKey,omitempty"`
	// NodeName defaults to the machine's hostname.
	NodeName string `json:"nodeName,omitempty"`
	// NodeIP is the address the node reports; kubelet picks one otherwise.
	NodeIP string `json:"nodeIP,omitempty"`
	// Labels and Taints (KEY[=VALUE]:EFFECT) the node registers with.
	Labels map[string]string `json:"labels,omitempty"`
	Taints []string          `json:"taints,omitempty"`
	// KubeletPort is where kubelet serves the API server (default 10250).
	KubeletPort int32 `json:"kubeletPort,omitempty"`
	// ClusterDNS and ClusterDomain are given to pods' resolvers.
	ClusterDNS    []string `json:"clusterDNS,omitempty"`
	ClusterDomain string   `json:"clusterDomain,omitempty"`
	// CloudProvider is "" or "external": with external, a cloud
	// controller sets the node's addresses and lifts its
	// node.cloudprovider.kubernetes.io/uninitialized taint.
	CloudProvider string `json:"cloudProvider,omitempty"`
}

// ParseUserData finds the "kubernetes" object in user data and checks it.
// Other top-level keys belong to other readers and are left alone.
func ParseUserData(data []byte) (*Join, error) {
	doc, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	raw, ok := top["kubernetes"]
	if !ok {
		return nil, errors.New(`no "kubernetes" object`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var j Join
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("kubernetes.%w", err)
	}
	return &j, nil
}

// check names the first field that is wrong, as FIELD: what.
func (j *Join) check() error {
	u, err := url.Parse(j.Server)
	switch {
	case j.Server == "":
		return errors.New("server: missing: the API server's https:// URL")
	case err != nil:
		return fmt.Errorf("server: %w", err)
	case u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/"):
		return fmt.Errorf("server: %q is not https://HOST[:PORT]", j.Server)
	}
	if j.CA == "" {
		return errors.New("ca: missing: the cluster CA's certificates (PEM)")
	}
	if _, err := parseCerts([]byte(j.CA)); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	hasCert := j.ClientCertificate != "" || j.ClientKey != ""
	switch {
	case j.Token != "" && hasCert:
		return errors.New("token: give a bootstrap token or a client certificate, not both")
	case j.Token == "" && !hasCert:
		return errors.New("token: missing: a bootstrap token, or clientCertificate and clientKey")
	case j.Token != "" && !bootstraputil.IsValidBootstrapToken(j.Token):
		// The token is a secret: never repeat it in an error.
		return errors.New("token: not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}")
	case hasCert:
		if _, err := tls.X509KeyPair([]byte(j.ClientCertificate), []byte(j.ClientKey)); err != nil {
			return fmt.Errorf("clientCertificate: with clientKey: %w", err)
		}
	}
	if j.NodeName != "" {
		if errs := validation.IsDNS1123Subdomain(j.NodeName); len(errs) > 0 {
			return fmt.Errorf("nodeName: %q: %s", j.NodeName, strings.Join(errs, "; "))
		}
	}
	if j.NodeIP != "" && net.ParseIP(j.NodeIP) == nil {
		return fmt.Errorf("nodeIP: %q is not an IP address", j.NodeIP)
	}
	for _, k := range sortedKeys(j.Labels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("labels: key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(j.Labels[k]); len(errs) > 0 {
			return fmt.Errorf("labels: %s: value %q: %s", k, j.Labels[k], strings.Join(errs, "; "))
		}
	}
	if _, err := j.taints(); err != nil {
		return fmt.Errorf("taints: %w", err)
	}
	if j.KubeletPort < 0 || j.KubeletPort > 65535 {
		return fmt.Errorf("kubeletPort: %d is not a port", j.KubeletPort)
	}
	for _, ip := range j.ClusterDNS {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("clusterDNS: %q is not an IP address", ip)
		}
	}
	if j.ClusterDomain != "" {
		if errs := validation.IsDNS1123Subdomain(j.ClusterDomain); len(errs) > 0 {
			return fmt.Errorf("clusterDomain: %q: %s", j.ClusterDomain, strings.Join(errs, "; "))
		}
	}
	if j.CloudProvider != "" && j.CloudProvider != "external" {
		return fmt.Errorf("cloudProvider: %q: only \"external\" (or none) is known", j.CloudProvider)
	}
	return nil
}

// taints parses KEY[=VALUE]:EFFECT, as kubectl taint writes them.
func (j *Join) taints() ([]v1.Taint, error) {
	var out []v1.Taint
	for _, s := range j.Taints {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("%q: want KEY[=VALUE]:EFFECT", s)
		}
		key, value, _ := strings.Cut(kv, "=")
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return nil, fmt.Errorf("%q: key: %s", s, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
			return nil, fmt.Errorf("%q: value: %s", s, strings.Join(errs, "; "))
		}
		switch e := v1.TaintEffect(effect); e {
		case v1.TaintEffectNoSchedule, v1.TaintEffectPreferNoSchedule, v1.TaintEffectNoExecute:
			out = append(out, v1.Taint{Key: key, Value: value, Effect: e})
		default:
			return nil, fmt.Errorf("%q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", s, effect)
		}
	}
	return out, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM block of type %q, not CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
