// Command ca-bundle is a recipe hook: it writes the CA bundle that
// Debian's update-ca-certificates would, concatenating every certificate
// under usr/share/ca-certificates of an image tree, in name order, into
// etc/ssl/certs/ca-certificates.crt. Each must be a PEM certificate that
// parses, so a broken package cannot produce a silently short bundle.
//
// usage: ca-bundle ROOT
package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ca-bundle ROOT")
		os.Exit(2)
	}
	n, err := writeBundle(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ca-bundle:", err)
		os.Exit(1)
	}
	fmt.Printf("ca-bundle: %d certificates\n", n)
}

func writeBundle(root string) (int, error) {
	src := filepath.Join(root, "usr/share/ca-certificates")
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".crt") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	slices.Sort(files)
	var bundle bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" {
			return 0, fmt.Errorf("%s: not a PEM certificate", f)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		bundle.Write(pem.EncodeToMemory(block))
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no certificates under %s", src)
	}
	dest := filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return 0, err
	}
	return len(files), os.WriteFile(dest, bundle.Bytes(), 0o644)
}
