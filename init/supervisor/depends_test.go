package supervisor

import (
	"reflect"
	"strings"
	"testing"
)

func TestDependencyErrorsFindUnknownNamesAndCycles(t *testing.T) {
	errs := dependencyErrors(map[string][]string{
		"app":   {"db"},
		"db":    nil,
		"a":     {"b"},
		"b":     {"c"},
		"c":     {"a"},
		"self":  {"self"},
		"ghost": {"nobody"},
		"after": {"a"}, // waits on a cycle, but is in none
	})
	want := map[string]string{
		"a":     "dependency cycle: a → b → c → a",
		"b":     "dependency cycle: a → b → c → a",
		"c":     "dependency cycle: a → b → c → a",
		"self":  "dependency cycle: self → self",
		"ghost": `depends on "nobody"`,
	}
	for name, w := range want {
		if errs[name] == nil || !strings.Contains(errs[name].Error(), w) {
			t.Errorf("%s: %v, want %q", name, errs[name], w)
		}
	}
	for _, name := range []string{"app", "db", "after"} {
		if errs[name] != nil {
			t.Errorf("%s: unexpected error %v", name, errs[name])
		}
	}
}

func TestStopOrderStopsDependentsFirst(t *testing.T) {
	got := stopOrder(map[string][]string{
		"db":    nil,
		"cache": nil,
		"app":   {"db", "cache"},
		"web":   {"app"},
		"log":   nil,
	})
	want := [][]string{{"log", "web"}, {"app"}, {"cache", "db"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stopOrder = %v, want %v", got, want)
	}
	cyc := stopOrder(map[string][]string{"a": {"b"}, "b": {"a"}, "c": {"a"}})
	if !reflect.DeepEqual(cyc, [][]string{{"c"}, {"a", "b"}}) {
		t.Errorf("stopOrder with a cycle = %v", cyc)
	}
}
