# minikit: `make run` sets up and boots the default image; `make test` sets
# up and runs every test, including the ones that boot images in qemu.

GO      ?= go
BUILD   := build
OUT     := out
# PID 1 embeds libcontainer, whose nsenter is C, and libseccomp (the seccomp
# tag), without which libcontainer refuses every seccomp filter: cgo, static.
STATIC  := CGO_ENABLED=1 $(GO) build -trimpath -tags netgo,osusergo,seccomp -ldflags '-s -w -extldflags -static'
PURE    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w'
GOFILES := $(shell find . -name '*.go' -not -path './build/*' -not -path './kubernetes/*') go.mod go.sum
DEFAULT := image-spec/examples/minikit.yml

.PHONY: all deps kernel images pkgs kube kube-images run test test-unit test-kube-modules fuzz bench bench-go clean
all: bin/minikit bin/svcctl bin/minikit-observe bin/init bin/dhcpcd

bin/init: $(GOFILES)
	$(STATIC) -o $@ ./init
bin/minikit: $(GOFILES)
	$(PURE) -o $@ ./tools/minikit
# svcctl and the observer that ships logs and serves metrics are pure Go
# binaries of their own: PID 1 carries neither, and svcctl not the
# observer's TLS and HTTP.
bin/svcctl: $(GOFILES)
	rm -f $@
	$(PURE) -o $@ ./init/svcctl/cmd/svcctl
bin/minikit-observe: $(GOFILES)
	$(PURE) -o $@ ./init/observer/cmd/minikit-observe
bin/dhcpcd: $(GOFILES)
	$(PURE) -o $@ ./netconf/cmd/dhcpcd

deps:
	scripts/deps.sh

# The kernel package unpacked as it is, for the tests that boot a bare
# kernel or read its modules; images take theirs from pkg/kernel. Both
# keep the .deb in the recipes' cache, so it is downloaded once.
DEBS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/minikit/debs
kernel: $(BUILD)/kernel/version
$(BUILD)/kernel/version:
	KERNEL_CACHE_DIR=$(DEBS) scripts/kernel.sh $(BUILD)/kernel

# Every image, from its recipe: pkg/*/build.yml (the base images: kernel,
# init, ca-certificates, a busybox for tests), onboot/*/build.yml and
# services/*/build.yml.
# Recipes are content-addressed: an unchanged one is "up to date" in
# seconds, so this runs whole every time.
RECIPES := $(dir $(wildcard pkg/*/build.yml onboot/*/build.yml services/*/build.yml))
images pkgs: bin/minikit
	bin/minikit pkg build $(RECIPES)

# A Kubernetes node's images (kubernetes/: kubelet, containerd with CRI),
# and the control plane the test starts on the host (kube-apiserver and
# etcd), all from the releases kubernetes/go.mod pins. Not part of
# `images`: the first build compiles kubelet, containerd and the API
# server from source, about 15 minutes on two cores; later ones are
# cached (the recipes by their content, the binaries by go's cache).
KUBE_RECIPES := kubernetes/containerd kubernetes/kubelet
KUBE_BIN     := $(BUILD)/kubernetes
kube: kube-images $(KUBE_BIN)/kube-apiserver $(KUBE_BIN)/etcd
kube-images: bin/minikit
	bin/minikit pkg build $(KUBE_RECIPES)
# The flags of the recipes' go builds, so the API server shares kubelet's
# compiled packages.
KUBE_VERSION = $(shell cd kubernetes && $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes)
KUBE_GO := cd kubernetes && CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitTreeState=clean'
$(KUBE_BIN)/kube-apiserver: kubernetes/go.mod kubernetes/go.sum
	$(KUBE_GO) -o $(CURDIR)/$@ k8s.io/kubernetes/cmd/kube-apiserver
$(KUBE_BIN)/etcd: kubernetes/go.mod kubernetes/go.sum
	$(KUBE_GO) -o $(CURDIR)/$@ go.etcd.io/etcd/server/v3

# make run logs you in with a key of its own, added by a second spec file.
SSH_KEY := $(BUILD)/ssh/id_ed25519
$(SSH_KEY):
	mkdir -p $(dir $@) && ssh-keygen -q -t ed25519 -N '' -C minikit-run -f $@
$(BUILD)/run-ssh.yml: $(SSH_KEY)
	printf 'files:\n  - path: root/.ssh/authorized_keys\n    source: %s\n    mode: "0600"\n' "$(CURDIR)/$(SSH_KEY).pub" >$@

run: deps
	$(MAKE) all images $(BUILD)/run-ssh.yml
	bin/minikit build -o $(OUT) -name minikit $(DEFAULT) $(BUILD)/run-ssh.yml
	@echo
	@echo "Booting $(DEFAULT). The console is a root shell; Ctrl-C powers off."
	@echo "Log in over ssh with:  ssh -i $(SSH_KEY) -p 2222 root@localhost"
	@echo
	bin/minikit run -publish 2222:22 $(OUT)/minikit

# Unit tests run anywhere; the qemu and root tests run here for real:
# MINIKIT_REQUIRE_* turns their skips into failures, and MINIKIT_SOAK runs
# the five-minute DHCP renewal soak against dnsmasq. Packages run one at a
# time (-p 1): guests under TCG starved by a second VM or the host tests
# hit soft lockups on two cores.
test: deps
	$(MAKE) all kernel images kube
	MINIKIT_REQUIRE_QEMU=1 MINIKIT_REQUIRE_ROOT=1 MINIKIT_SOAK=1 $(GO) test -p 1 -count=1 -timeout 60m ./...
	$(MAKE) test-kube-modules
	$(MAKE) fuzz

test-unit: test-kube-modules
	$(GO) test -short ./...

# kubernetes/ and kubernetes/containerd are modules of their own (they pin
# Kubernetes' and containerd's dependencies apart from minikit's), which
# ./... does not reach.
KUBE_MODULES := kubernetes kubernetes/containerd
test-kube-modules:
	for m in $(KUBE_MODULES); do (cd $$m && $(GO) vet ./... && $(GO) test -count=1 ./...) || exit 1; done

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./image-spec/
	$(GO) test -run '^$$' -fuzz '^FuzzWriteUserData$$' -fuzztime $(FUZZTIME) ./onboot/metadata/cmd/metadata/
	$(GO) test -run '^$$' -fuzz '^FuzzUnpackTar$$' -fuzztime $(FUZZTIME) ./tools/images/
	$(GO) test -run '^$$' -fuzz '^FuzzUnpackLayers$$' -fuzztime $(FUZZTIME) ./tools/images/
	$(GO) test -run '^$$' -fuzz '^FuzzReplyToResolvConf$$' -fuzztime $(FUZZTIME) ./netconf/dhcp/
	$(GO) test -run '^$$' -fuzz '^FuzzControlAPI$$' -fuzztime $(FUZZTIME) ./internal/control/
	$(GO) test -run '^$$' -fuzz '^FuzzReadRequest$$' -fuzztime $(FUZZTIME) ./internal/control/

# Boot benchmark: the reference image against a busybox-script baseline
# with Debian's runc, and PID 1 measured on the host (bench/README.md);
# RUNS boots of each, medians. Then a Kubernetes node's boot to Ready and
# a pod's start, RUNS times, means. BENCHFLAGS adds flags, such as
# -before DIR -before-store STORE to measure an earlier checkout beside.
RUNS ?= 3
BENCHFLAGS ?=
bench: deps
	$(MAKE) all images kube
	$(GO) run ./bench/bootbench -runs $(RUNS) $(BENCHFLAGS)
	MINIKIT_REQUIRE_QEMU=1 $(GO) test -run '^$$' -bench '^BenchmarkKubernetesNode$$' -benchtime $(RUNS)x ./tests/

# The Go benchmarks of every package (supervisor, unpacking, builds, …).
bench-go: all images kube
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin $(OUT)
