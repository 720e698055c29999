package slots

import (
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/grubenv"
)

// machine plays a disk through the protocol: GRUB's half (Boot) at every
// boot, init's half (Stage, Confirm, Fail) as events, and records which
// slot each boot ran.
type machine struct {
	t       *testing.T
	state   State
	running string
	trial   bool
}

func (m *machine) boot() {
	m.running, m.trial, m.state = m.state.Boot()
}

func (m *machine) want(slot string, trial bool) {
	m.t.Helper()
	if m.running != slot || m.trial != trial {
		m.t.Fatalf("the boot runs slot %s (trial %v), want %s (trial %v); state %+v", m.running, m.trial, slot, trial, m.state)
	}
}

func TestTheProtocol(t *testing.T) {
	tests := []struct {
		name   string
		events func(m *machine)
	}{
		{"a new disk boots A", func(m *machine) {
			m.boot()
			m.want(A, false)
		}},
		{"an update that comes up healthy becomes the good slot", func(m *machine) {
			m.boot()
			m.state = m.state.Stage(B)
			m.boot()
			m.want(B, true)
			m.state = m.state.Confirm(B)
			m.boot()
			m.want(B, false)
			m.boot()
			m.want(B, false)
		}},
		{"an update whose trial fails falls back at once", func(m *machine) {
			m.boot()
			m.state = m.state.Stage(B)
			m.boot()
			m.want(B, true)
			m.state = m.state.Fail(B, "service web exited 3")
			m.boot()
			m.want(A, false)
			if m.state.Failed != B || m.state.Reason != "service web exited 3" {
				t.Errorf("after the failed trial the state is %+v", m.state)
			}
		}},
		{"a trial that crashes, hangs or loses power falls back at the next boot", func(m *machine) {
			m.boot()
			m.state = m.state.Stage(B)
			m.boot()
			m.want(B, true)
			m.boot() // no Confirm: the machine went down during the trial
			m.want(A, false)
			if m.state.Failed != B || m.state.Trying != "" {
				t.Errorf("after the lost trial the state is %+v", m.state)
			}
			m.boot()
			m.want(A, false)
		}},
		{"a power cut while a slot is written boots the good slot", func(m *machine) {
			m.boot()
			m.state = m.state.Stage(B)
			m.state = m.state.Invalidate(B) // a second update starts over B
			m.boot()
			m.want(A, false)
		}},
		{"updates alternate between the slots", func(m *machine) {
			m.boot()
			for _, slot := range []string{B, A, B} {
				m.state = m.state.Stage(slot)
				m.boot()
				m.want(slot, true)
				m.state = m.state.Confirm(slot)
			}
			m.boot()
			m.want(B, false)
		}},
		{"a good boot clears an old failure of the slot it confirms", func(m *machine) {
			m.boot()
			m.state = m.state.Stage(B)
			m.boot()
			m.state = m.state.Fail(B, "broken")
			m.state = m.state.Stage(B)
			if m.state.Failed != "" || m.state.Reason != "" {
				t.Errorf("staging B again keeps its old failure: %+v", m.state)
			}
			m.boot()
			m.state = m.state.Confirm(B)
			m.boot()
			m.want(B, false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.events(&machine{t: t, state: Initial()})
		})
	}
}

// TestGrubFallsBackOnNonsense: a state GRUB cannot make sense of boots A
// or falls back, never nothing.
func TestGrubFallsBackOnNonsense(t *testing.T) {
	for _, s := range []State{{}, {Good: "C"}, {Good: "b"}} {
		if slot, trial, _ := s.Boot(); slot != A || trial {
			t.Errorf("%+v boots %s (trial %v), want A", s, slot, trial)
		}
	}
	s := State{Good: B, Try: "Z"}
	slot, trial, next := s.Boot()
	if slot != "Z" || !trial {
		t.Fatalf("try=Z boots %s", slot)
	}
	if slot, _, _ := next.Boot(); slot != B {
		t.Errorf("after a try of no slot the next boot runs %s, want B", slot)
	}
}

func TestStateThroughTheEnvironmentBlock(t *testing.T) {
	s := State{Good: B, Failed: A, Reason: "service web exited 3\nand # more \\ here"}
	block, err := s.Block()
	if err != nil {
		t.Fatal(err)
	}
	if len(block) != EnvSize {
		t.Fatalf("the block is %d bytes, want %d", len(block), EnvSize)
	}
	env, err := grubenv.Parse(block)
	if err != nil {
		t.Fatal(err)
	}
	back := StateFrom(env)
	if back.Good != B || back.Failed != A || back.Reason != "service web exited 3 and more here" {
		t.Errorf("read back %+v", back)
	}
	// The longest state still fits the block's first sector, so that a
	// write torn between its sectors keeps a whole state.
	long := State{Good: A, Try: B, Trying: B, Failed: B, Reason: strings.Repeat("x", 1000)}
	block, err = long.Block()
	if err != nil {
		t.Fatal(err)
	}
	if end := strings.Index(string(block), "\n#"); end < 0 || end >= 512 {
		t.Errorf("the longest state takes %d bytes, more than a sector", end)
	}
}

func script(slot, version string) *Script {
	return &Script{Slot: slot, Version: version, Layout: Plan(8192, 4096, 4096)}
}

func TestSlotsTellEachSlotsState(t *testing.T) {
	tests := []struct {
		name string
		view View
		want string // slot:state:running, for A then B
	}{
		{"a new disk", View{State: Initial(), Running: A, Scripts: map[string]*Script{A: script(A, "v1")}},
			"A:active:true B:empty:false"},
		{"an update staged", View{State: State{Good: A, Try: B}, Running: A, Scripts: map[string]*Script{A: script(A, "v1"), B: script(B, "v2")}},
			"A:active:true B:trying:false"},
		{"on trial", View{State: State{Good: A, Trying: B}, Running: B, Scripts: map[string]*Script{A: script(A, "v1"), B: script(B, "v2")}},
			"A:good:false B:trying:true"},
		{"after a good update", View{State: State{Good: B}, Running: B, Scripts: map[string]*Script{A: script(A, "v1"), B: script(B, "v2")}},
			"A:good:false B:active:true"},
		{"after a failed update", View{State: State{Good: B, Failed: A, Reason: "oops"}, Running: B, Scripts: map[string]*Script{A: script(A, "v3"), B: script(B, "v2")}},
			"A:bad:false B:active:true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range tt.view.Slots() {
				got = append(got, s.Slot+":"+s.State+":"+map[bool]string{true: "true", false: "false"}[s.Running])
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("Slots = %s, want %s", strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestTargetIsTheOtherSlotOfAGoodBoot(t *testing.T) {
	scripts := map[string]*Script{A: script(A, "v1"), B: script(B, "v2")}
	if got, err := (View{State: State{Good: B}, Running: B, Scripts: scripts}).Target(); got != A || err != nil {
		t.Errorf("Target on a good B = %s, %v; want A", got, err)
	}
	for name, v := range map[string]View{
		"no slot":      {State: Initial()},
		"on trial":     {State: State{Good: A, Trying: B}, Running: B, Scripts: scripts},
		"not the good": {State: State{Good: A}, Running: B, Scripts: scripts},
	} {
		if got, err := v.Target(); err == nil {
			t.Errorf("%s: Target = %s, want a refusal", name, got)
		}
	}
}

func TestRollback(t *testing.T) {
	scripts := map[string]*Script{A: script(A, "v1"), B: script(B, "v2")}
	// From a good B to A: A is tried once, and B stays good until then.
	s, _, err := View{State: State{Good: B}, Running: B, Scripts: scripts}.Rollback()
	if err != nil || s.Try != A || s.Good != B {
		t.Errorf("rollback from a good B = %+v, %v; want A to try", s, err)
	}
	// During a trial: the trial fails.
	s, _, err = View{State: State{Good: A, Trying: B}, Running: B, Scripts: scripts}.Rollback()
	if err != nil || s.Failed != B || s.Trying != "" {
		t.Errorf("rollback during the trial of B = %+v, %v; want B failed", s, err)
	}
	if slot, _, _ := s.Boot(); slot != A {
		t.Errorf("after calling off the trial the next boot runs %s", slot)
	}
	// With an update staged: it is called off.
	s, _, err = View{State: State{Good: A, Try: B}, Running: A, Scripts: scripts}.Rollback()
	if err != nil || s.Try != "" || s.Failed != B {
		t.Errorf("rollback with B staged = %+v, %v; want B called off", s, err)
	}
	// Nothing to roll back to.
	for name, v := range map[string]View{
		"empty": {State: State{Good: A}, Running: A, Scripts: map[string]*Script{A: scripts[A]}},
		"bad":   {State: State{Good: A, Failed: B, Reason: "x"}, Running: A, Scripts: scripts},
		"none":  {State: Initial()},
	} {
		if _, _, err := v.Rollback(); err == nil {
			t.Errorf("rollback to %s slot did not fail", name)
		}
	}
}
