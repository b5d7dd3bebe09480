# pve-ontap-snapshot: one entry point for building, testing, benchmarking, the demo and the .deb.
# `make demo` and `make test` work on a fresh clone: they fetch crates and the test virtualenv themselves.

CARGO ?= cargo
PREFIX ?= /usr
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

.PHONY: all build test unit-test conformance check fmt lint bench demo deb install clean

all: build

build:
	$(CARGO) build --release --locked --workspace

# The test command of the README and CI: unit + integration tests, then the third-party client check.
test: unit-test conformance

unit-test:
	$(CARGO) test --locked --workspace

conformance:
	$(CARGO) build --locked -p pve-ontap-sim -p pve-ontap-snapshot
	tests/conformance/run.sh target/debug/pve-ontap-sim target/debug/pve-ontap-snapshot

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

check: fmt lint test

bench:
	$(CARGO) bench --locked --bench bench

demo:
	$(CARGO) build --release --locked --workspace
	examples/demo.sh target/release

deb:
	$(CARGO) fetch --locked
	dpkg-buildpackage -b -us -uc --no-pre-clean
	mkdir -p target/deb && mv ../pve-ontap-snapshot_$(VERSION)_*.deb ../pve-ontap-snapshot*_$(VERSION)_*.buildinfo ../pve-ontap-snapshot_$(VERSION)_*.changes target/deb/ 2>/dev/null || true
	@ls -1 target/deb/*.deb
	@if command -v lintian >/dev/null; then lintian --fail-on error target/deb/pve-ontap-snapshot_$(VERSION)_*.deb; fi

# Installs what the .deb installs, below $(DESTDIR)$(PREFIX) (for installs without dpkg).
install:
	$(CARGO) build --release --locked -p pve-ontap-snapshot
	install -D -m 0755 target/release/pve-ontap-snapshot $(DESTDIR)$(PREFIX)/bin/pve-ontap-snapshot
	target/release/pve-ontap-snapshot gen-docs target/gen
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 target/gen/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 0644 target/gen/pve-ontap-snapshot $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pve-ontap-snapshot
	install -D -m 0644 target/gen/_pve-ontap-snapshot $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_pve-ontap-snapshot
	install -D -m 0644 target/gen/pve-ontap-snapshot.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pve-ontap-snapshot.fish
	install -d $(DESTDIR)$(PREFIX)/share/pve-ontap-snapshot/hooks
	install -m 0755 hooks/pve-ontap-snapshot-hookscript hooks/pve-ontap-snapshot-vzdump $(DESTDIR)$(PREFIX)/share/pve-ontap-snapshot/hooks/
	install -D -m 0600 examples/config.ini $(DESTDIR)/etc/pve-ontap-snapshot/config.ini
	install -D -m 0644 debian/pve-ontap-snapshot@.service $(DESTDIR)/lib/systemd/system/pve-ontap-snapshot@.service
	install -D -m 0644 debian/pve-ontap-snapshot@.timer $(DESTDIR)/lib/systemd/system/pve-ontap-snapshot@.timer
	install -D -m 0644 debian/pve-ontap-snapshot.pve-ontap-snapshot-status.service $(DESTDIR)/lib/systemd/system/pve-ontap-snapshot-status.service
	install -D -m 0644 debian/pve-ontap-snapshot.pve-ontap-snapshot-status.timer $(DESTDIR)/lib/systemd/system/pve-ontap-snapshot-status.timer

clean:
	$(CARGO) clean
	rm -rf debian/.debhelper debian/pve-ontap-snapshot debian/files debian/*.substvars debian/debhelper-build-stamp
