// Package sbom describes what a built minikit system is made of as a
// CycloneDX software bill of materials: every image with its digest, the
// Debian packages inside each image with their versions, and the Go
// modules compiled into each Go program, found from the files themselves.
//
// The document is reproducible: components are sorted, the serial number
// is derived from the content, and the timestamp is given by the caller
// (SOURCE_DATE_EPOCH) or left out.
package sbom
