// Package kubelet holds the kubelet image's recipe; this test keeps the
// version the recipe stamps into kubelet equal to the release go.mod pins.
package kubelet

import (
	"os"
	"regexp"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestRecipeStampsThePinnedRelease(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?k8s\.io/kubernetes (v\d+\.(\d+)\.\d+)\b`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod pins no k8s.io/kubernetes release")
	}
	data, err := os.ReadFile("build.yml")
	if err != nil {
		t.Fatal(err)
	}
	var recipe struct {
		Go []struct {
			Package string            `json:"package"`
			Vars    map[string]string `json:"vars"`
		} `json:"go"`
	}
	if err := yaml.Unmarshal(data, &recipe); err != nil {
		t.Fatal(err)
	}
	for _, g := range recipe.Go {
		if g.Package != "k8s.io/kubernetes/cmd/kubelet" {
			continue
		}
		const v = "k8s.io/component-base/version."
		if g.Vars[v+"gitVersion"] != string(m[1]) || g.Vars[v+"gitMinor"] != string(m[2]) {
			t.Errorf("build.yml stamps kubelet %s (minor %s), go.mod pins %s", g.Vars[v+"gitVersion"], g.Vars[v+"gitMinor"], m[1])
		}
		return
	}
	t.Error("build.yml builds no kubelet")
}
