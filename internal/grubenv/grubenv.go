// Package grubenv reads and writes GRUB's environment block: the small
// file GRUB's load_env and save_env read and rewrite in place, which is
// how a minikit disk's boot loader and its init share the boot state.
//
// The format is GRUB's (grub-core/lib/envblk.c): the signature line
// "# GRUB Environment Block", then one "name=value" line a variable,
// then '#' up to the block's size, which never changes. In a value, a
// backslash and a newline are written with a backslash before them.
package grubenv

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Signature is the first line of every environment block.
const Signature = "# GRUB Environment Block\n"

// Size is the size of the block grub-editenv makes and minikit's disks
// carry: two 512-byte sectors.
const Size = 1024

// Var is one variable of a block.
type Var struct{ Name, Value string }

// Env is the variables of a block, in the order they are written. GRUB
// keeps that order when it saves a variable that is already there.
type Env []Var

// ErrNotEnv says that a block does not start with the signature.
var ErrNotEnv = errors.New("not a GRUB environment block: the signature is missing")

// Parse reads a block. Lines that are not "name=value" (the padding, a
// comment) are skipped, as GRUB skips them.
func Parse(block []byte) (Env, error) {
	if !bytes.HasPrefix(block, []byte(Signature)) {
		return nil, ErrNotEnv
	}
	var env Env
	rest := block[len(Signature):]
	for len(rest) > 0 {
		line, next := nextLine(rest)
		rest = next
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte("="))
		if !ok || len(name) == 0 {
			continue
		}
		env = env.Set(string(name), unescape(value))
	}
	return env, nil
}

// nextLine splits off the first line of b, honouring escaped newlines.
func nextLine(b []byte) (line, rest []byte) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '\n':
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func unescape(v []byte) string {
	var s strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		s.WriteByte(v[i])
	}
	return s.String()
}

func escape(v string) string {
	var s strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' || v[i] == '\n' {
			s.WriteByte('\\')
		}
		s.WriteByte(v[i])
	}
	return s.String()
}

// Get returns the value of name, "" when it is not set.
func (e Env) Get(name string) string {
	for _, v := range e {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// Set returns e with name set to value: in its place when it is there,
// at the end when it is not.
func (e Env) Set(name, value string) Env {
	out := make(Env, 0, len(e)+1)
	found := false
	for _, v := range e {
		if v.Name == name {
			v.Value, found = value, true
		}
		out = append(out, v)
	}
	if !found {
		out = append(out, Var{name, value})
	}
	return out
}

// Format writes e as a block of size bytes, padded with '#'. A name must
// be a plain word; a block too small for the variables is an error, never
// a truncated block.
func (e Env) Format(size int) ([]byte, error) {
	b := []byte(Signature)
	for _, v := range e {
		if v.Name == "" || strings.ContainsAny(v.Name, "=\n#\\ ") {
			return nil, fmt.Errorf("grubenv: %q is not a variable name", v.Name)
		}
		b = append(b, v.Name+"="+escape(v.Value)+"\n"...)
	}
	if len(b) > size {
		return nil, fmt.Errorf("grubenv: the variables take %d bytes, more than the block's %d", len(b), size)
	}
	return append(b, bytes.Repeat([]byte("#"), size-len(b))...), nil
}
