package imagespec

import (
	"encoding/json"
	"fmt"

	"github.com/goccy/go-yaml"
)

// YAML writes the resolved spec in its own format, for a file with
// "metadata: yaml". Fields that were not given are left out.
func (s *Spec) YAML() ([]byte, error) {
	b, err := yaml.MarshalWithOptions(s, yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, fmt.Errorf("write spec as YAML: %w", err)
	}
	return b, nil
}

// JSON writes the resolved spec as indented JSON, for a file with
// "metadata: json".
func (s *Spec) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "    ")
	if err != nil {
		return nil, fmt.Errorf("write spec as JSON: %w", err)
	}
	return b, nil
}
