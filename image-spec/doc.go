// Package imagespec reads minikit's system spec, the LinuxKit YAML format,
// strictly: every mistake in a file is reported at once with its file,
// line, column and field. It also turns each container entry, with its
// image's config, into the OCI runtime spec (config.json) and runtime
// section (runtime.json) of a bundle.
//
// The format and every difference from LinuxKit are described in the
// package's README.md.
package imagespec
