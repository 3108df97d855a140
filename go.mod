module github.com/linux-ha-go/ha

go 1.26.8

require (
	github.com/alecthomas/kong v1.17.0
	github.com/coreos/go-systemd/v22 v22.7.0
	golang.org/x/sys v0.50.0
	pgregory.net/rapid v1.3.0
)
