# The toolkit's build. `make` builds every program into bin/.
PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/linux-ha-go
UNITDIR   ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

GO        ?= go
GOFLAGS   ?= -trimpath
PROGRAMS  := $(notdir $(wildcard cmd/*))
FUZZTIME  ?= 60s
# Test data taken from the systems we replace: shared/ stands beside the
# checkout (as in CI).
HA_CONFORMANCE ?= $(abspath $(CURDIR)/../shared/conformance/pacemaker-scheduler)
export HA_CONFORMANCE

.PHONY: all build test test-deps unit fuzz fuzz-long bench soak demo install clean vet

all: build

build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

# Installs the Debian packages the tests need (when root and missing),
# then runs every test: unit and multi-process tests, and every fuzz
# target on its seed corpus and testdata/fuzz (go test does that). Fuzzing
# proper (random inputs) is `make fuzz`: a gate must give the same answer
# on the same commit, and what fuzzing finds is added to testdata/fuzz.
test: test-deps build
	$(GO) vet ./...
	HA_TEST_BIN=$(CURDIR)/bin $(GO) test -count=1 -timeout 20m ./...

test-deps:
	scripts/test-deps.sh

unit:
	$(GO) test -short -count=1 ./...

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

bench: build
	scripts/bench.sh

soak: build
	scripts/soak.sh

demo: build
	scripts/demo.sh
	scripts/demo-drbd.sh

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(addprefix bin/,$(PROGRAMS)) $(DESTDIR)$(SBINDIR)/
	for f in man/*.5; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man5/ || true; done
	for f in man/*.8; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man8/ || true; done
	for f in contrib/systemd/*; do [ -e "$$f" ] || continue; \
		sed 's|/usr/sbin/|$(SBINDIR)/|g' "$$f" > $(DESTDIR)$(UNITDIR)/$$(basename "$$f"); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename "$$f"); done
	for f in contrib/examples/*; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(DOCDIR)/examples/ || true; done
	for f in completions/bash/*; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(BASHCOMPDIR)/ || true; done
	for f in completions/zsh/*; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(ZSHCOMPDIR)/ || true; done
	for f in completions/fish/*; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(FISHCOMPDIR)/ || true; done

clean:
	rm -rf bin
