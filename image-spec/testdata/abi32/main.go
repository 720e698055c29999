// Command abi32 exits 0. Built for GOARCH=386, it is the 32-bit program
// with which the tests check that a container's default seccomp filter
// refuses the i386 syscall ABI.
package main

func main() {}
