package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// Write writes kubelet's files for j under dir and returns kubelet's flags.
// Credentials are written 0600, and every file is replaced whole (written
// beside and renamed), so a node that loses power mid-write keeps the
// previous file, not half of one.
func Write(j *Join, dir, hostname, runtime string) ([]string, error) {
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return nil, err
	}
	caFile := filepath.Join(pki, "cluster-ca.crt")
	if err := writeFile(caFile, []byte(j.CA), 0o644); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	args := []string{"--config=" + filepath.Join(dir, "config.yaml"), "--kubeconfig=" + kubeconfig}

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: j.Server, CertificateAuthorityData: []byte(j.CA)}
	cfg.Contexts["node"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "node"}
	cfg.CurrentContext = "node"
	if j.Token != "" {
		// kubelet trades the token for a client certificate and writes
		// kubeconfig itself; a kubeconfig kept on a persistent disk from
		// an earlier boot is used as long as its certificate is valid.
		cfg.AuthInfos["node"] = &clientcmdapi.AuthInfo{Token: j.Token}
		if err := forgetOtherCluster(kubeconfig, j); err != nil {
			return nil, err
		}
		bootstrap := filepath.Join(dir, "bootstrap-kubeconfig")
		if err := writeKubeconfig(bootstrap, cfg); err != nil {
			return nil, err
		}
		args = append(args, "--bootstrap-kubeconfig="+bootstrap)
	} else {
		cfg.AuthInfos["node"] = &clientcmdapi.AuthInfo{
			ClientCertificateData: []byte(j.ClientCertificate),
			ClientKeyData:         []byte(j.ClientKey),
		}
		if err := writeKubeconfig(kubeconfig, cfg); err != nil {
			return nil, err
		}
	}

	config, err := kubeletConfig(j, caFile, runtime)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, "config.yaml"), config, 0o644); err != nil {
		return nil, err
	}

	name := j.NodeName
	if name == "" {
		name = hostname
	}
	args = append(args, "--hostname-override="+name)
	if j.NodeIP != "" {
		args = append(args, "--node-ip="+j.NodeIP)
	}
	if len(j.Labels) > 0 {
		var kv []string
		for _, k := range sortedKeys(j.Labels) {
			kv = append(kv, k+"="+j.Labels[k])
		}
		args = append(args, "--node-labels="+strings.Join(kv, ","))
	}
	if j.CloudProvider != "" {
		args = append(args, "--cloud-provider="+j.CloudProvider)
	}
	return args, nil
}

// kubeletConfig is kubelet's configuration file for a minikit node.
func kubeletConfig(j *Join, caFile, runtime string) ([]byte, error) {
	taints, err := j.taints()
	if err != nil {
		return nil, err
	}
	yes, no := true, false
	resolv := "/etc/resolv.conf"
	c := kubeletv1beta1.KubeletConfiguration{
		TypeMeta: metav1.TypeMeta{Kind: "KubeletConfiguration", APIVersion: kubeletv1beta1.SchemeGroupVersion.String()},
		// Only the API server (or whoever holds a certificate of the
		// cluster CA and is allowed by it) may call kubelet: no anonymous
		// requests, every one authorised by the API server.
		Authentication: kubeletv1beta1.KubeletAuthentication{
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: caFile},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: &yes},
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: &no},
		},
		Authorization: kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		// minikit has no systemd: kubelet and containerd write cgroupfs.
		CgroupDriver:             "cgroupfs",
		ContainerRuntimeEndpoint: "unix://" + runtime,
		// The kernel settings kubelet wants are set at boot by the sysctl
		// entry (examples/kubernetes-node.yml); kubelet checks them rather
		// than writing /proc/sys, which its container keeps read-only.
		ProtectKernelDefaults: true,
		// A swap volume is the system builder's choice; pods do not use it.
		FailSwapOn:         &no,
		RotateCertificates: true,
		ReadOnlyPort:       0,
		Port:               j.KubeletPort,
		ClusterDNS:         j.ClusterDNS,
		ClusterDomain:      j.ClusterDomain,
		RegisterWithTaints: taints,
		ResolverConfig:     &resolv,
	}
	out, err := yaml.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("kubelet configuration: %w", err)
	}
	return out, nil
}

// forgetOtherCluster removes the kubeconfig kubelet wrote at an earlier
// bootstrap when it names another API server or CA than the user data
// does: kubelet would go on using it, as long as its certificate is
// valid, and the node would stay in the cluster it was moved out of.
func forgetOtherCluster(kubeconfig string, j *Join) error {
	old, err := clientcmd.LoadFromFile(kubeconfig)
	if os.IsNotExist(err) {
		return nil
	}
	if err == nil {
		if ctx, ok := old.Contexts[old.CurrentContext]; ok {
			if c, ok := old.Clusters[ctx.Cluster]; ok && c.Server == j.Server && string(c.CertificateAuthorityData) == j.CA {
				return nil
			}
		}
	}
	// Another cluster's, or unreadable: kubelet bootstraps anew.
	if err := os.Remove(kubeconfig); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the kubeconfig of another cluster: %w", err)
	}
	return nil
}

func writeKubeconfig(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFile(path, data, 0o600)
}

// writeFile replaces path with data: written beside, synced, renamed.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a rename, there is nothing to remove
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
