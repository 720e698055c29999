// Package images keeps minikit's local image store, resolves the image
// references a spec names, builds images from directories and unpacks image
// layers into a staging tree without ever writing outside it.
//
// The store is a plain OCI image layout, so any OCI tool can read it, and
// every image in it is named by the org.opencontainers.image.ref.name
// annotation of its index entry.
package images
