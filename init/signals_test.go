package main

import (
	"os/signal"
	"runtime"
	"testing"
)

// Catching the fault signals must not hide real faults: a nil dereference
// still panics where it happens, so that the guard sees it (and a fault
// outside Go code still crashes). Catching them twice changes nothing: a
// second wrap once made the handler call itself until the stack ran out.
func TestARealFaultStillPanicsWhileSignalsAreCaught(t *testing.T) {
	defer signal.Stop(catchSignals())
	sigs := catchSignals()
	defer signal.Stop(sigs)
	var p *struct{ n int }
	err := func() (err any) {
		defer func() { err = recover() }()
		p.n++
		return nil
	}()
	if _, ok := err.(runtime.Error); !ok {
		t.Fatalf("a nil dereference gave %v, want a runtime error", err)
	}
	select {
	case s := <-sigs:
		t.Errorf("the fault reached the signal channel as %v", s)
	default:
	}
}
