// Package sourcedate reads SOURCE_DATE_EPOCH, the time that reproducible
// builds stamp on everything they write
// (https://reproducible-builds.org/specs/source-date-epoch/).
package sourcedate

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env is the variable's name.
const Env = "SOURCE_DATE_EPOCH"

// Epoch returns $SOURCE_DATE_EPOCH as a time, or the Unix epoch when it is
// unset, so that builds are reproducible by default. A value that is not
// a whole number of seconds is an error: silently stamping another time
// would make a build that looks reproducible and is not.
func Epoch() (time.Time, error) {
	s, ok := os.LookupEnv(Env)
	if !ok || s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("%s=%q is not a whole, non-negative number of seconds since 1970", Env, s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// Given reports whether the build was given a time, as opposed to the
// default: outputs that carry a timestamp only when asked (the SBOM) say
// so by leaving it out.
func Given() bool { return os.Getenv(Env) != "" }
