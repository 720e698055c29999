// Package tests boots real minikit images in qemu and checks them from the
// outside, through the serial console. The images are built by bin/minikit
// from the specs under images/, with the base images `make images` put in
// the store; `make test` does both first.
package tests
