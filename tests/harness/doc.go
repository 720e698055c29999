// Package harness boots a built minikit image in qemu for a test and checks
// it from the outside: through the serial console and forwarded ports.
//
// A test boots with Boot, waits for console lines with Expect, and ends by
// powering the machine off and waiting for it (Shutdown, or Powerdown and
// WaitExit). The harness explains its own failures: a timeout shows the
// last console lines, a failed test prints where the full console log and
// the exact qemu command line are, a kernel panic fails the test as soon as
// it appears, and a test that forgets to wait for its machine fails too.
//
// Without qemu or a built image, and under go test -short, the tests skip,
// unless the environment sets MINIKIT_REQUIRE_QEMU=1 (as CI does): then
// they fail, so that a broken CI setup cannot pass by skipping everything.
// MINIKIT_TEST_LOGS names a directory that keeps the console logs after
// the run.
package harness
