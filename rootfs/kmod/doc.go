// Package kmod finds, orders and loads Linux kernel modules: at build time
// it reads each module's .modinfo to resolve dependencies and copies the
// needed modules into the image; at boot, PID 1 loads them in that order.
//
// The kernel packages we boot ship no modules.dep, so dependencies come
// from the modules themselves, read lazily: a build reads the handful of
// modules it needs, not the thousands in the tree.
package kmod
