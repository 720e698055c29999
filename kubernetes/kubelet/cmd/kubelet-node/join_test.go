package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// testPEM makes a self-signed certificate and its key, as PEM.
func testPEM(t *testing.T, cn string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}

func userData(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(map[string]any{"kubernetes": fields, "ssh": map[string]any{"port": 22}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const token = "abcdef.0123456789abcdef"

func TestParseUserDataRefusesWhatKubeletCouldNotUse(t *testing.T) {
	ca, _ := testPEM(t, "ca")
	cert, key := testPEM(t, "system:node:n1")
	_, otherKey := testPEM(t, "other")
	good := func() map[string]any {
		return map[string]any{"server": "https://10.0.2.2:6443", "ca": ca, "token": token}
	}
	with := func(k string, v any) map[string]any { m := good(); m[k] = v; return m }
	without := func(k string) map[string]any { m := good(); delete(m, k); return m }
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"garbage", []byte("{"), "not JSON or YAML"},
		{"a list", []byte("[1]"), "not an object"},
		{"no kubernetes object", []byte(`{"ssh": {}}`), `no "kubernetes" object`},
		{"a misspelt field", userData(t, with("tokn", token)), `unknown field "tokn"`},
		{"no server", userData(t, without("server")), "kubernetes.server: missing"},
		{"plain http", userData(t, with("server", "http://10.0.2.2:6443")), "kubernetes.server: "},
		{"no CA", userData(t, without("ca")), "kubernetes.ca: missing"},
		{"a CA that is a key", userData(t, with("ca", key)), "kubernetes.ca: "},
		{"no credentials", userData(t, without("token")), "kubernetes.token: missing"},
		{"a bad token", userData(t, with("token", "secret-but-wrong")), "kubernetes.token: not a bootstrap token"},
		{"token and certificate", userData(t, with("clientCertificate", cert)), "not both"},
		{"a key that is not the certificate's", userData(t, map[string]any{"server": "https://k:6443", "ca": ca, "clientCertificate": cert, "clientKey": otherKey}), "kubernetes.clientCertificate: "},
		{"a bad node name", userData(t, with("nodeName", "Node_1")), "kubernetes.nodeName: "},
		{"a bad node IP", userData(t, with("nodeIP", "10.0.2")), "kubernetes.nodeIP: "},
		{"a bad label", userData(t, with("labels", map[string]string{"a b": "c"})), "kubernetes.labels: "},
		{"a bad taint", userData(t, with("taints", []string{"k=v:Sometimes"})), "kubernetes.taints: "},
		{"a bad port", userData(t, with("kubeletPort", 70000)), "kubernetes.kubeletPort: "},
		{"an unknown cloud", userData(t, with("cloudProvider", "aws")), "kubernetes.cloudProvider: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseUserData(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseUserData: %v, want an error with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secret-but-wrong") {
				t.Errorf("the error repeats the token: %v", err)
			}
		})
	}
	if _, err := ParseUserData(userData(t, good())); err != nil {
		t.Errorf("good user data refused: %v", err)
	}
	yamlData := "kubernetes:\n  server: https://k:6443\n  ca: |\n" + indent(ca) + "  token: " + token + "\n"
	if _, err := ParseUserData([]byte(yamlData)); err != nil {
		t.Errorf("YAML user data refused: %v", err)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	return b.String()
}

func TestWriteWithAClientCertificate(t *testing.T) {
	ca, _ := testPEM(t, "ca")
	cert, key := testPEM(t, "system:node:n1")
	j, err := ParseUserData(userData(t, map[string]any{
		"server": "https://10.0.2.2:6443", "ca": ca, "clientCertificate": cert, "clientKey": key,
		"nodeName": "n1", "labels": map[string]string{"b": "2", "a": "1"}, "taints": []string{"dedicated=edge:NoSchedule"},
		"kubeletPort": 10260, "cloudProvider": "external",
	}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args, err := Write(j, dir, "host", "/run/containerd/containerd.sock")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--config=" + filepath.Join(dir, "config.yaml"), "--kubeconfig=" + filepath.Join(dir, "kubeconfig"),
		"--hostname-override=n1", "--node-labels=a=1,b=2", "--cloud-provider=external",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("kubelet's flags %q lack %q", args, want)
		}
	}
	kc := filepath.Join(dir, "kubeconfig")
	if fi, err := os.Stat(kc); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v, mode %v, want 0600", err, fi.Mode())
	}
	rest, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	if rest.Host != "https://10.0.2.2:6443" || string(rest.CertData) != cert || string(rest.KeyData) != key || string(rest.CAData) != ca {
		t.Errorf("kubeconfig does not carry the server and credentials given: %+v", rest)
	}

	data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		t.Fatalf("config.yaml is not a KubeletConfiguration: %v\n%s", err, data)
	}
	if c.Kind != "KubeletConfiguration" || c.Port != 10260 || *c.Authentication.Anonymous.Enabled ||
		c.Authorization.Mode != kubeletv1beta1.KubeletAuthorizationModeWebhook ||
		c.Authentication.X509.ClientCAFile != filepath.Join(dir, "pki", "cluster-ca.crt") ||
		len(c.RegisterWithTaints) != 1 || c.RegisterWithTaints[0].Value != "edge" ||
		c.ContainerRuntimeEndpoint != "unix:///run/containerd/containerd.sock" {
		t.Errorf("config.yaml is not what the node needs:\n%s", data)
	}
}

func TestWriteWithABootstrapToken(t *testing.T) {
	ca, _ := testPEM(t, "ca")
	j, err := ParseUserData(userData(t, map[string]any{"server": "https://k:6443", "ca": ca, "token": token}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args, err := Write(j, dir, "mk-1", "/run/containerd/containerd.sock")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(args, "--bootstrap-kubeconfig="+filepath.Join(dir, "bootstrap-kubeconfig")) || !slices.Contains(args, "--hostname-override=mk-1") {
		t.Errorf("kubelet's flags %q do not bootstrap as node mk-1", args)
	}
	if _, err := os.Stat(filepath.Join(dir, "kubeconfig")); !os.IsNotExist(err) {
		t.Errorf("kubeconfig written before kubelet's bootstrap: %v", err)
	}
	cfg, err := clientcmd.LoadFromFile(filepath.Join(dir, "bootstrap-kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthInfos["node"].Token != token {
		t.Errorf("bootstrap kubeconfig lacks the token")
	}
	fi, err := os.Stat(filepath.Join(dir, "bootstrap-kubeconfig"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap kubeconfig mode: %v %v, want 0600", fi.Mode(), err)
	}
}

// A node moved to another cluster (new user data, same persistent disk)
// must bootstrap there, not go on with the kubeconfig kubelet wrote for
// the old one; in the same cluster it keeps it.
func TestWriteForgetsAnotherClustersKubeconfig(t *testing.T) {
	ca, _ := testPEM(t, "ca")
	otherCA, _ := testPEM(t, "other-ca")
	for _, c := range []struct {
		name, server, ca string
		kept             bool
	}{
		{"same cluster", "https://k:6443", ca, true},
		{"another server", "https://elsewhere:6443", ca, false},
		{"another CA", "https://k:6443", otherCA, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			// what kubelet writes after its bootstrap
			old := clientcmdapi.NewConfig()
			old.Clusters["default-cluster"] = &clientcmdapi.Cluster{Server: c.server, CertificateAuthorityData: []byte(c.ca)}
			old.AuthInfos["default-auth"] = &clientcmdapi.AuthInfo{ClientCertificate: "/var/lib/kubelet/pki/kubelet-client-current.pem"}
			old.Contexts["default-context"] = &clientcmdapi.Context{Cluster: "default-cluster", AuthInfo: "default-auth"}
			old.CurrentContext = "default-context"
			kc := filepath.Join(dir, "kubeconfig")
			if err := clientcmd.WriteToFile(*old, kc); err != nil {
				t.Fatal(err)
			}
			j, err := ParseUserData(userData(t, map[string]any{"server": "https://k:6443", "ca": ca, "token": token}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Write(j, dir, "n", "/run/containerd/containerd.sock"); err != nil {
				t.Fatal(err)
			}
			_, err = os.Stat(kc)
			if kept := err == nil; kept != c.kept {
				t.Errorf("kubeconfig kept: %v, want %v", kept, c.kept)
			}
		})
	}
}
