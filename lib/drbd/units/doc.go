// Package units holds the tests of godrbd's systemd units
// (contrib/systemd/godrbd.service and godrbd@.service): systemd-analyze
// verify accepts them, and the commands of godrbd@.service bring a
// resource up, re-apply it and take it down with the real godrbd and
// godrbdadm. It has no code of its own.
package units
