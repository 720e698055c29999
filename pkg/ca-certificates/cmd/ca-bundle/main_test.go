package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func certPEM(t *testing.T, name string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestBundleHoldsEveryCertificateInNameOrder(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "usr/share/ca-certificates/mozilla")
	os.MkdirAll(src, 0o755)
	b, a := certPEM(t, "B"), certPEM(t, "A")
	os.WriteFile(filepath.Join(src, "B.crt"), b, 0o644)
	os.WriteFile(filepath.Join(src, "A.crt"), a, 0o644)
	os.WriteFile(filepath.Join(src, "README"), []byte("not a cert"), 0o644)
	n, err := writeBundle(root)
	if err != nil || n != 2 {
		t.Fatalf("writeBundle = %d, %v; want 2 certificates", n, err)
	}
	got, _ := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if string(got) != string(a)+string(b) {
		t.Errorf("bundle is not A.crt then B.crt:\n%s", got)
	}
}

func TestBundleRefusesABrokenCertificate(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "usr/share/ca-certificates/mozilla")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "bad.crt"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	if _, err := writeBundle(root); err == nil || !strings.Contains(err.Error(), "bad.crt") {
		t.Fatalf("writeBundle = %v, want an error naming bad.crt", err)
	}
}

func TestNoCertificatesIsAnError(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/share/ca-certificates"), 0o755)
	if _, err := writeBundle(root); err == nil {
		t.Fatal("an empty bundle was written")
	}
}
