package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/internal/update"
)

func TestKeyGenerateWritesAPairAndNeverOverwrites(t *testing.T) {
	name := filepath.Join(t.TempDir(), "release")
	if err := keyCommand([]string{"generate", name}); err != nil {
		t.Fatal(err)
	}
	privPEM, err := os.ReadFile(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := readSignKey(name + ".key")
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(name + ".pub")
	pub, err := update.ParsePublicKey(pubPEM)
	if err != nil || !pub.Equal(priv.Public()) {
		t.Errorf("release.pub is not the public half of release.key: %v", err)
	}
	if st, _ := os.Stat(name + ".key"); st.Mode().Perm() != 0o600 {
		t.Errorf("release.key has mode %v, want 0600", st.Mode().Perm())
	}
	if err := keyCommand([]string{"generate", name}); err == nil {
		t.Fatal("a second generate over the same name did not fail")
	}
	again, _ := os.ReadFile(name + ".key")
	if string(again) != string(privPEM) {
		t.Error("the second generate changed release.key")
	}
	if _, err := readSignKey(name + ".pub"); err == nil {
		t.Error("a public key passes for -sign")
	}
}
