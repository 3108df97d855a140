package api

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/linux-ha-go/ha/lib/ipc"
)

func TestRefusalText(t *testing.T) {
	for _, tc := range []struct {
		r    *Refusal
		text string
		exit int
	}{
		{StateRefusal("0", SSNoUpToDateDisk), "0: State change failed: (-2) Need access to UpToDate data", 17},
		{StateRefusal("1", SSDeviceInUse), "1: State change failed: (-12) Device is held open by someone", 11},
		{StateRefusal("0", SSLowerThanOutdated), "0: State change failed: (-16) Disk state is lower than outdated", 5},
		{StateRefusal("0", SSNoLocalDisk), "0: State change failed: (-4) Can not resync without local disk", 16},
		{Failure("r0", ErrResourceUnknown), "r0: Failure: (158) Unknown resource", 10},
		{&Refusal{Object: "0", Code: -2, Text: "custom"}, "0: State change failed: (-2) custom", 17},
	} {
		if got := tc.r.Error(); got != tc.text {
			t.Errorf("%q, want %q", got, tc.text)
		}
		if got := int(tc.r.ExitCode()); got != tc.exit {
			t.Errorf("%s: exit %d, want %d", tc.text, got, tc.exit)
		}
		// across the socket and back
		b, _ := json.Marshal(tc.r.IPC())
		var e ipc.Error
		json.Unmarshal(b, &e)
		var back *Refusal
		if !errors.As(FromIPC(&e), &back) || back.Error() != tc.text || back.Code != tc.r.Code {
			t.Errorf("%s: came back as %v", tc.text, FromIPC(&e))
		}
	}
	other := ipc.Errorf(ipc.CodeNotFound, 105, "no such resource")
	if FromIPC(other) != error(other) {
		t.Error("FromIPC changed an error that is no refusal")
	}
}

func TestRequestString(t *testing.T) {
	q := &Request{Op: OpConnect, Args: []string{"r0", (&Endpoint{AF: "ipv4", Address: "10.0.0.1", Port: "7789"}).String(), (&Endpoint{AF: "ipv6", Address: "fd00::2", Port: "7789"}).String()},
		Options: []Option{{"shared-secret", `with space "q"`}}, Flags: []Option{{Name: "discard-my-data"}}}
	want := `connect r0 ipv4:10.0.0.1:7789 ipv6:\[fd00::2\]:7789 --shared-secret=with\ space\ \"q\" --discard-my-data`
	if got := q.String(); got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
	if (*Endpoint)(nil).String() != "N/A" {
		t.Error("nil endpoint")
	}
}
