package imagespec

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// passwdEntry is what minikit needs of a line of /etc/passwd.
type passwdEntry struct{ uid, gid uint32 }

// lookupPasswd finds a user by name in the image's /etc/passwd.
func lookupPasswd(rootfs fs.FS, name string) (passwdEntry, error) {
	var found *passwdEntry
	err := scanColonFile(rootfs, "etc/passwd", func(f []string) bool {
		if len(f) < 4 || f[0] != name {
			return true
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return true
		}
		found = &passwdEntry{uint32(uid), uint32(gid)}
		return false
	})
	if err != nil {
		return passwdEntry{}, err
	}
	if found == nil {
		return passwdEntry{}, fmt.Errorf("the image runs as user %q, who is not in the image's /etc/passwd", name)
	}
	return *found, nil
}

// lookupGroup finds a group's id by name in the image's /etc/group.
func lookupGroup(rootfs fs.FS, name string) (uint32, error) {
	var gid *uint32
	err := scanColonFile(rootfs, "etc/group", func(f []string) bool {
		if len(f) < 3 || f[0] != name {
			return true
		}
		if g, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			v := uint32(g)
			gid = &v
			return false
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if gid == nil {
		return 0, fmt.Errorf("the image runs as group %q, which is not in the image's /etc/group", name)
	}
	return *gid, nil
}

// supplementaryGroups lists the groups in /etc/group that name the user as
// a member, other than its primary group, as Docker gives them. An image
// without /etc/group gives none.
func supplementaryGroups(rootfs fs.FS, user string, primary uint32) ([]uint32, error) {
	var gids []uint32
	err := scanColonFile(rootfs, "etc/group", func(f []string) bool {
		if len(f) < 4 {
			return true
		}
		g, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || uint32(g) == primary {
			return true
		}
		for _, m := range strings.Split(f[3], ",") {
			if strings.TrimSpace(m) == user {
				gids = append(gids, uint32(g))
				break
			}
		}
		return true
	})
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	return gids, nil
}

// scanColonFile calls each with the fields of every non-comment line of a
// passwd-style file until each returns false.
func scanColonFile(rootfs fs.FS, name string, each func(fields []string) bool) error {
	f, err := rootfs.Open(name)
	if err != nil {
		return fmt.Errorf("read the image's /%s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !each(strings.Split(line, ":")) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the image's /%s: %w", name, err)
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
