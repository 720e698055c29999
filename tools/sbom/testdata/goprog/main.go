// Command goprog is a Go program for the tests to find in a tree: it links
// a dependency so that its build information lists one.
package main

import (
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func main() { fmt.Println(cdx.SpecVersion1_6) }
