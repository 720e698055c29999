// Package signkey reads and writes the private key that signs update
// bundles. It is the builder's alone (minikit key, minikit build -sign):
// crypto/x509, which PKCS#8 needs, stays out of init, which only checks
// signatures (internal/update).
package signkey

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// privatePEM is the PEM block type of a private key.
const privatePEM = "PRIVATE KEY"

// Encode writes key as a PKCS#8 PEM block.
func Encode(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: privatePEM, Bytes: der}), nil
}

// Parse reads an ed25519 key from a PKCS#8 PEM block, as Encode or
// `openssl genpkey -algorithm ed25519` writes it.
func Parse(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != privatePEM {
		return nil, fmt.Errorf("not a PEM %q block", privatePEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return ed, nil
}
