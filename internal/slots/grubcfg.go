package slots

import (
	"fmt"
	"strings"
)

// Partition table schemes, as GRUB names a disk's partitions.
const (
	SchemeMBR = "msdos"
	SchemeGPT = "gpt"
)

// GrubConfig is grub.cfg for a disk whose partitions GRUB names with
// scheme: State.Boot in GRUB's language. $root is the boot partition,
// found by the image's marker file; the slots are partitions 2 and 3 of
// the same disk.
//
// If the script of the slot to boot does not boot (an empty slot named
// good by a state written by hand), GRUB tries the other slot; a trial
// that does not boot reboots instead, and the next boot falls back.
func GrubConfig(scheme string) string {
	dev := func(slot string) string {
		return fmt.Sprintf("($minikit_disk,%s%d)", scheme, Partition(slot))
	}
	r := strings.NewReplacer(
		"@ENV@", EnvPath,
		"@DEVA@", dev(A), "@DEVB@", dev(B),
		"@GOOD@", VarGood, "@TRY@", VarTry, "@TRYING@", VarTrying, "@FAILED@", VarFailed,
	)
	return r.Replace(`# minikit's boot loader configuration, the same on every disk. The boot
# state is in grubenv; boot/A.cfg and boot/B.cfg load each slot's system.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
regexp --set=1:minikit_disk '^(.*),[^,]*$' "$root"
set minikit_env=($root)/@ENV@
load_env -f $minikit_env @GOOD@ @TRY@ @TRYING@ @FAILED@
set minikit_slot=A
if [ "$@GOOD@" = B ]; then set minikit_slot=B; fi
set minikit_trial=
if [ -n "$@TRYING@" ]; then
  echo "minikit: slot $@TRYING@ did not come up healthy: booting slot $minikit_slot"
  set @FAILED@=$@TRYING@
  set @TRYING@=
  save_env -f $minikit_env @FAILED@ @TRYING@
elif [ -n "$@TRY@" ]; then
  set minikit_slot=$@TRY@
  set minikit_trial=$@TRY@
  set @TRYING@=$@TRY@
  set @TRY@=
  save_env -f $minikit_env @TRYING@ @TRY@
  echo "minikit: trying slot $minikit_slot once"
fi
function minikit_boot {
  set minikit_dev=@DEVA@
  if [ "$minikit_slot" = B ]; then set minikit_dev=@DEVB@; fi
  echo "minikit: booting slot $minikit_slot"
  source ($root)/boot/$minikit_slot.cfg
  echo "minikit: slot $minikit_slot did not boot"
}
minikit_boot
if [ -z "$minikit_trial" ]; then
  if [ "$minikit_slot" = A ]; then set minikit_slot=B; else set minikit_slot=A; fi
  minikit_boot
fi
echo "minikit: rebooting"
sleep 5
reboot
`)
}
