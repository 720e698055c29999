package tests

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tests/harness"
	"github.com/minikit/minikit/tools/diskimage"
	"github.com/minikit/minikit/tools/qemu"
)

const (
	kubeNode = "minikit-node"
	// how long a TCG guest may take to boot, start containerd and kubelet
	// and report Ready; it bounds a hang and measures nothing
	kubeReadyTimeout = 6 * time.Minute
	kubePodTimeout   = 4 * time.Minute
)

// TestKubernetesNodeJoinsRunsAPodAndKeepsItsState boots
// examples/kubernetes-node.yml against a control plane on the host (etcd
// and kube-apiserver, built from the module kubernetes/ pins), its join in
// a CD-ROM's user data and its state on a disk. The node joins as
// kubeadm's nodes do: with a bootstrap token traded for a client
// certificate. It must register with its labels and the pinned kubelet,
// become Ready, run a pod bound to it from an image it carries, whose line
// is read back through the API server (kubelet serves the log), and, once
// the pod is deleted, confirm that its containers are gone. Rebooted, it
// must come back Ready with the certificate it keeps on its disk, asking
// for no other.
func TestKubernetesNodeJoinsRunsAPodAndKeepsItsState(t *testing.T) {
	k := joinKubeNode(t)
	podStart := k.runPod(t)
	t.Logf("node Ready %v after boot; pod running %v after it was created", k.ready.Round(time.Second), podStart.Round(time.Second))
	k.reboot(t)
}

// BenchmarkKubernetesNode reports what a node's users wait for (make
// bench): from boot to the node Ready, and from a pod's creation to its
// container running.
func BenchmarkKubernetesNode(b *testing.B) {
	var ready, podStart time.Duration
	for range b.N {
		k := joinKubeNode(b)
		ready += k.ready
		podStart += k.runPod(b)
		k.m.Shutdown(bootTimeout)
	}
	b.ReportMetric(ready.Seconds()/float64(b.N), "s-boot-to-ready")
	b.ReportMetric(podStart.Seconds()/float64(b.N), "s-pod-start")
}

// testNode is a booted node and the cluster it joined.
type testNode struct {
	cp          *controlPlane
	image, disk string
	kubeletPort int
	join        map[string]any
	m           *harness.Machine
	ready       time.Duration // from boot to Ready
	first       *corev1.Node  // as it was when first Ready
}

// joinKubeNode starts a control plane, boots a node into it and waits
// for the node to be Ready.
//
// Playing the cloud controller (cloudProvider: external), the test sets
// the node's address to the host's loopback, where qemu forwards kubelet's
// port: the API server cannot reach the guest's own address through qemu's
// user network. And it approves and signs kubelet's certificate request,
// as the controller manager (which this cluster lacks) would.
func joinKubeNode(t testing.TB) *testNode {
	testenv.QEMU(t)
	cp := startControlPlane(t)
	c := cp.client
	ctx := t.Context()
	// What kubeadm token create and kubeadm init set up: the token's
	// secret, and the right of its holders to ask for node certificates.
	waitFor(t, nil, time.Minute, "the bootstrap token's secret", func() (bool, error) {
		_, err := c.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system"},
			Type:       corev1.SecretTypeBootstrapToken,
			StringData: map[string]string{
				"token-id": "abcdef", "token-secret": "0123456789abcdef",
				"usage-bootstrap-authentication": "true",
				"expiration":                     time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			},
		}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return true, nil
		}
		return false, err // kube-system may not be there yet
	})
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "minikit-test-node-bootstrapper"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-bootstrapper"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:bootstrappers"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	k := &testNode{cp: cp, image: kubeNodeImage(t), disk: filepath.Join(t.TempDir(), "node.img"), kubeletPort: freePort(t)}
	k.join = map[string]any{
		"server":        cp.guestURL(),
		"ca":            string(cp.ca.certPEM),
		"token":         "abcdef.0123456789abcdef",
		"nodeName":      kubeNode,
		"kubeletPort":   k.kubeletPort,
		"cloudProvider": "external",
		"labels":        map[string]string{"minikit.dev/test": "kubernetes"},
	}
	start := time.Now()
	k.m = bootKubeNode(t, k.image, k.kubeletPort, k.disk, k.join)
	waitFor(t, k.m, kubeReadyTimeout, "kubelet's certificate request, approved and signed", func() (bool, error) {
		return signNodeCSRs(t, c, cp.ca) > 0, nil
	})
	var node *corev1.Node
	waitFor(t, k.m, kubeReadyTimeout, "node "+kubeNode+" to register", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, kubeNode, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		node = n
		return err == nil, err
	})
	t.Logf("node registered %v after boot", time.Since(start).Round(time.Second))
	if v := node.Status.NodeInfo.KubeletVersion; v != cp.version {
		t.Errorf("node runs kubelet %s, want %s, the control plane's release", v, cp.version)
	}
	if node.Labels["minikit.dev/test"] != "kubernetes" {
		t.Errorf("node registered without the user data's label: %v", node.Labels)
	}
	initialiseNode(t, c, k.kubeletPort)
	k.first = waitReady(t, k.m, c, time.Time{})
	k.ready = time.Since(start)
	return k
}

// runPod runs a pod on the node, reads its line, deletes it and waits for
// kubelet to confirm it gone; it returns how long the pod took to run.
func (k *testNode) runPod(t testing.TB) time.Duration {
	t.Helper()
	ctx, c, m := t.Context(), k.cp.client, k.m
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	no := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: corev1.PodSpec{
			NodeName:                     kubeNode,
			AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{
				Name:            "hello",
				Image:           "minikit/busybox:dev",
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"/bin/sh", "-c", "echo hello from pod $(hostname) on minikit; exec sleep 3600"},
			}},
			TerminationGracePeriodSeconds: new(int64),
		},
	}
	start := time.Now()
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, m, kubePodTimeout, "pod hello to run", func() (bool, error) {
		p, err := c.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod ended: %s", p.Status.Phase)
		}
		return p.Status.Phase == corev1.PodRunning, nil
	})
	running := time.Since(start)
	waitFor(t, m, kubePodTimeout, "pod hello's log line", func() (bool, error) {
		logs, err := c.CoreV1().Pods("default").GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			return false, err // kubelet may not have the log file yet
		}
		return bytes.Contains(logs, []byte("hello from pod hello on minikit")), nil
	})

	// Deleted: the API server drops the pod only once kubelet has
	// stopped its containers and reclaimed what they held.
	if err := c.CoreV1().Pods("default").Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, m, kubePodTimeout, "pod hello's containers to be gone", func() (bool, error) {
		_, err := c.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	return running
}

// reboot powers the node off and boots it again on the same disk: it must
// be Ready again, in its new boot, without asking for a new certificate.
func (k *testNode) reboot(t testing.TB) {
	t.Helper()
	c := k.cp.client
	k.m.Shutdown(bootTimeout)
	restart := time.Now()
	k.m = bootKubeNode(t, k.image, k.kubeletPort, k.disk, k.join)
	again := waitReady(t, k.m, c, restart)
	if again.Status.NodeInfo.BootID == k.first.Status.NodeInfo.BootID {
		t.Errorf("the node reported Ready after the reboot with its first boot's ID %s", k.first.Status.NodeInfo.BootID)
	}
	csrs, err := c.CertificatesV1().CertificateSigningRequests().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, csr := range csrs.Items {
		if !csr.CreationTimestamp.Time.Before(restart.Truncate(time.Second)) {
			t.Errorf("certificate request %s made after the reboot: the node's certificate did not outlive it", csr.Name)
		}
	}
	k.m.Shutdown(bootTimeout)
}

// kubeNodeImage builds the example node with minikit/busybox among the
// images it carries.
func kubeNodeImage(t testing.TB) string {
	busybox := filepath.Join(t.TempDir(), "busybox.tar")
	imageTar(t, "minikit/busybox:dev", "minikit/busybox:dev", busybox)
	preload := filepath.Join(t.TempDir(), "preload.yml")
	writeFile(t, preload, fmt.Sprintf("files:\n  - path: etc/kubernetes/images/busybox.tar\n    source: %s\n", busybox))
	return build(t, "kube-node", "../image-spec/examples/kubernetes-node.yml", preload)
}

// bootKubeNode boots image with join as its user data's "kubernetes"
// object on a CD-ROM, kubelet's port forwarded from the host's loopback,
// and disk (when not "") as its state's disk.
func bootKubeNode(t testing.TB, image string, kubeletPort int, disk string, join map[string]any) *harness.Machine {
	t.Helper()
	userdata, err := json.Marshal(map[string]any{"kubernetes": join})
	if err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "data.iso")
	if err := diskimage.DataISO(t.Context(), iso, userdata, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	opts := []harness.Option{harness.WithMemory(3072), harness.WithQEMU(func(o *qemu.Options) {
		o.CDROMs = []string{iso}
		o.Forwards = append(o.Forwards, qemu.Forward{HostPort: kubeletPort, GuestPort: kubeletPort})
	})}
	if disk != "" {
		opts = append(opts, harness.WithDisk(disk, 2<<30))
	}
	return harness.Boot(t, image, opts...)
}

// waitReady waits for the node to report Ready with a heartbeat after
// since, and returns it.
func waitReady(t testing.TB, m *harness.Machine, c kubernetes.Interface, since time.Time) *corev1.Node {
	t.Helper()
	var node *corev1.Node
	waitFor(t, m, kubeReadyTimeout, "node "+kubeNode+" to be Ready", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(t.Context(), kubeNode, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && cond.LastHeartbeatTime.After(since) {
				node = n
				return true, nil
			}
		}
		return false, nil
	})
	return node
}

// signNodeCSRs approves and signs kubelets' pending requests for client
// certificates, as the controller manager's approver and signer do, and
// returns how many it signed.
func signNodeCSRs(t testing.TB, c kubernetes.Interface, ca *testCA) int {
	t.Helper()
	ctx := t.Context()
	list, err := c.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0
	}
	signed := 0
	for _, csr := range list.Items {
		if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || len(csr.Status.Certificate) > 0 {
			continue
		}
		block, _ := pem.Decode(csr.Spec.Request)
		if block == nil {
			t.Fatalf("certificate request %s holds no PEM", csr.Name)
		}
		req, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil || req.CheckSignature() != nil {
			t.Fatalf("certificate request %s: %v", csr.Name, err)
		}
		if req.Subject.CommonName != "system:node:"+kubeNode {
			t.Fatalf("certificate request %s is for %q, not the node", csr.Name, req.Subject.CommonName)
		}
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "MinikitTest", Message: "approved by the test",
		})
		approved, err := c.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, &csr, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("approve %s: %v", csr.Name, err)
		}
		approved.Status.Certificate = ca.sign(t, req)
		if _, err := c.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, approved, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("sign %s: %v", csr.Name, err)
		}
		signed++
	}
	return signed
}

// initialiseNode does what a cloud controller does for a new node: it sets
// the addresses and lifts the uninitialized taint. kubelet writes the
// node's status at the same time, so each write is retried on conflict.
func initialiseNode(t testing.TB, c kubernetes.Interface, kubeletPort int) {
	ctx := t.Context()
	nodes := c.CoreV1().Nodes()
	var port int32
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, kubeNode, metav1.GetOptions{})
		if err != nil {
			return err
		}
		port = n.Status.DaemonEndpoints.KubeletEndpoint.Port
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("set node addresses: %v", err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, kubeNode, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		for _, tn := range n.Spec.Taints {
			if tn.Key != "node.cloudprovider.kubernetes.io/uninitialized" {
				taints = append(taints, tn)
			}
		}
		n.Spec.Taints = taints
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("lift the uninitialized taint: %v", err)
	}
	if port != int32(kubeletPort) {
		t.Errorf("kubelet reports port %d, user data asked for %d", port, kubeletPort)
	}
}

// waitFor polls cond every second until it holds, failing the test when
// timeout passes, with cond's last error and the console's tail (where
// kubelet and containerd log) when there is a machine.
func waitFor(t testing.TB, m *harness.Machine, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		time.Sleep(time.Second)
	}
	var lines []string
	if m != nil {
		lines = m.Lines()
	}
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Fatalf("waited %v for %s (last error: %v); console's end:\n%s", timeout, what, last, strings.Join(lines, "\n"))
}

// controlPlane is etcd and kube-apiserver on the host's loopback.
type controlPlane struct {
	ca      *testCA
	port    int
	client  kubernetes.Interface
	version string // the API server's, v1.X.Y
}

func startControlPlane(t testing.TB) *controlPlane {
	t.Helper()
	bin, err := filepath.Abs("../build/kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	apiserver, etcd := filepath.Join(bin, "kube-apiserver"), filepath.Join(bin, "etcd")
	for _, p := range []string{apiserver, etcd} {
		if _, err := os.Stat(p); err != nil {
			testenv.Unavailable(t, testenv.RequireQEMUEnv, "%s is missing: run make kube first", p)
		}
	}
	dir := t.TempDir()
	ca := newTestCA(t)
	pki := func(name string, pemData []byte) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, string(pemData))
		return p
	}
	caFile := pki("ca.crt", ca.certPEM)
	servingCert, servingKey := ca.issue(t, "kube-apiserver", nil, x509.ExtKeyUsageServerAuth)
	adminCert, adminKey := ca.issue(t, "admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth)
	kubeletClientCert, kubeletClientKey := ca.issue(t, "kube-apiserver-kubelet-client", []string{"system:masters"}, x509.ExtKeyUsageClientAuth)
	_, saKey := ca.issue(t, "service-accounts", nil, x509.ExtKeyUsageClientAuth)

	etcdClient, etcdPeer := freePort(t), freePort(t)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	startDaemon(t, dir, "etcd", etcd,
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync", "--log-level=warn")

	port := freePort(t)
	startDaemon(t, dir, "kube-apiserver", apiserver,
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port), "--advertise-address=10.0.2.2",
		"--tls-cert-file="+pki("apiserver.crt", servingCert), "--tls-private-key-file="+pki("apiserver.key", servingKey),
		"--client-ca-file="+caFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+pki("sa.key", saKey), "--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--enable-bootstrap-token-auth",
		"--kubelet-client-certificate="+pki("kubelet-client.crt", kubeletClientCert),
		"--kubelet-client-key="+pki("kubelet-client.key", kubeletClientKey),
		"--kubelet-preferred-address-types=InternalIP",
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--profiling=false")

	cfg := &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", port),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.certPEM, CertData: adminCert, KeyData: adminKey},
		Timeout:         30 * time.Second,
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(t.Context())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 3 minutes: %v %s (its log: %s)", err, body, filepath.Join(dir, "kube-apiserver.log"))
		}
		time.Sleep(time.Second)
	}
	info, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	return &controlPlane{ca: ca, port: port, client: client, version: info.GitVersion}
}

// guestURL is the API server as the guest reaches it: qemu's user network
// maps 10.0.2.2 to the host's loopback.
func (cp *controlPlane) guestURL() string { return fmt.Sprintf("https://10.0.2.2:%d", cp.port) }

// startDaemon runs a control-plane program until the test ends, its output
// in DIR/NAME.log, whose end is printed if the test fails.
func startDaemon(t testing.TB, dir, name, path string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			if len(data) > 6000 {
				data = data[len(data)-6000:]
			}
			t.Logf("%s's log ends:\n%s", name, data)
		}
	})
}

// testCA is a cluster CA for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	serial  int64
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "minikit-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

// sign makes a node client certificate for req, as the controller
// manager's kube-apiserver-client-kubelet signer does.
func (ca *testCA) sign(t testing.TB, req *x509.CertificateRequest) []byte {
	t.Helper()
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial), Subject: req.Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, req.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// issue makes a certificate for cn in groups (the subject's
// organisations, which Kubernetes reads as groups), and its key, as PEM.
func (ca *testCA) issue(t testing.TB, cn string, groups []string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.2.2"), net.ParseIP("10.96.0.1")}
		tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
