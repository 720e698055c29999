package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	imagespec "github.com/minikit/minikit/image-spec"
)

// validateCommand is `minikit validate FILE.yml…`: it checks the files as
// `minikit build` would read them (merged in order) and prints every
// problem, one "FILE:LINE:COL: field: message" a line, on stderr. With
// -each, each file is checked on its own. It prints nothing when all is
// well.
func validateCommand(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: minikit validate [-each] FILE.yml...\n\n"+
			"Checks spec files as minikit build reads them, merged in order, and prints every problem.\n\n")
		fs.PrintDefaults()
	}
	each := fs.Bool("each", false, "check each file on its own instead of merged")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no spec file given")
	}
	groups := [][]string{fs.Args()}
	if *each {
		groups = groups[:0]
		for _, f := range fs.Args() {
			groups = append(groups, []string{f})
		}
	}
	return validate(os.Stderr, groups)
}

// validate checks each group of files, writing warnings and errors to w,
// and returns an error counting the problems when there were any.
func validate(w io.Writer, groups [][]string) error {
	problems := 0
	for _, files := range groups {
		_, warnings, err := imagespec.ParseFiles(files...)
		for _, warn := range warnings {
			fmt.Fprintln(w, "warning:", warn)
		}
		if err == nil {
			continue
		}
		var errs imagespec.Errors
		if errors.As(err, &errs) {
			problems += len(errs)
		} else {
			problems++
		}
		fmt.Fprintln(w, err)
	}
	switch problems {
	case 0:
		return nil
	case 1:
		return errors.New("1 problem found")
	}
	return fmt.Errorf("%d problems found", problems)
}
