package images

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Entry describes one named image in the store.
type Entry struct {
	// Name is the normalised name; "<none>" for an entry without one.
	Name string `json:"name"`
	// Digest is the manifest (or index) digest the name points at.
	Digest v1.Hash `json:"digest"`
	// Size is the bytes its manifest, config and compressed layers take.
	Size int64 `json:"size"`
	// Created is the creation time its config records.
	Created time.Time `json:"created"`
}

// List returns the store's named images sorted by name.
func (s *Store) List() ([]Entry, error) {
	index, err := s.layout.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("list store %s: %w", s.dir, err)
	}
	m, err := index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("list store %s: %w", s.dir, err)
	}
	var entries []Entry
	for _, d := range m.Manifests {
		e := Entry{Name: entryName(d), Digest: d.Digest, Size: d.Size}
		if e.Name == "" {
			e.Name = "<none>"
		}
		img, _, err := imageFor(index, d)
		if err != nil {
			return nil, fmt.Errorf("list store %s: %s: %w", s.dir, e.Name, err)
		}
		if e.Size, err = imageSize(img, d.Size); err != nil {
			return nil, fmt.Errorf("list store %s: %s: %w", s.dir, e.Name, err)
		}
		if cfg, err := img.ConfigFile(); err == nil {
			e.Created = cfg.Created.Time
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return entries, nil
}

func imageSize(img v1.Image, manifestSize int64) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size := manifestSize + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}

// WriteTable prints entries as the NAME DIGEST SIZE CREATED table of
// `minikit images`, digests shortened as Docker shortens them.
func WriteTable(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tCREATED")
	for _, e := range entries {
		digest := e.Digest.String()
		if len(e.Digest.Hex) > 12 {
			digest = e.Digest.Algorithm + ":" + e.Digest.Hex[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, digest, humanSize(e.Size), e.Created.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// WriteJSON prints entries as an indented JSON array.
func WriteJSON(w io.Writer, entries []Entry) error {
	if entries == nil {
		entries = []Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(entries)
}
