package images_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/tools/images"
)

// A directory becomes an image in the store, which a build then resolves
// by name and unpacks into its staging tree.
func Example() {
	tmp, _ := os.MkdirTemp("", "images-example")
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc", "motd"), []byte("hello\n"), 0o644)

	store, err := images.Open(filepath.Join(tmp, "store"))
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := images.FromDir(tree, v1.Config{Cmd: []string{"/bin/sh"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Add("docker.io/minikit/motd:dev", img); err != nil {
		fmt.Println(err)
		return
	}

	resolved, err := store.Resolve(context.Background(), "minikit/motd:dev")
	if err != nil {
		fmt.Println(err)
		return
	}
	staging := filepath.Join(tmp, "staging")
	os.Mkdir(staging, 0o755)
	if err := images.Unpack(resolved, staging, images.UnpackOptions{IgnoreOwners: true}); err != nil {
		fmt.Println(err)
		return
	}
	motd, _ := os.ReadFile(filepath.Join(staging, "etc", "motd"))
	entries, _ := store.List()
	fmt.Printf("%s: %s", entries[0].Name, motd)
	// Output: minikit/motd:dev: hello
}
