package bundle

// What a system built to take updates carries in its root image: the
// public key that update bundles must be signed with, and its update
// settings. init reads both; a system without the key refuses every
// update.
const (
	UpdateKey    = "/etc/minikit/update.pub"
	UpdateConfig = "/etc/minikit/update.json"
)

// UpdateSettings is UpdateConfig's content: the spec's update section.
type UpdateSettings struct {
	// Version is this build's update.version ("" for none).
	Version string `json:"version,omitempty"`
	// GraceSeconds is how long every service must run on the first boot
	// of an update before it is marked good.
	GraceSeconds int `json:"graceSeconds"`
}
