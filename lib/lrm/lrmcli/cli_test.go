package lrmcli

import (
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

func TestParamsMap(t *testing.T) {
	m, err := Params{"ip=10.0.0.5", "list=a,b", "empty=", "eq=a=b"}.Map("param")
	if err != nil || m["ip"] != "10.0.0.5" || m["list"] != "a,b" || m["empty"] != "" || m["eq"] != "a=b" {
		t.Fatalf("%v %v", m, err)
	}
	if m, err := (Params{}).Map("param"); m != nil || err != nil {
		t.Fatal("no params must give nil (use the registered ones)")
	}
	for _, bad := range []string{"novalue", "=x"} {
		_, err := Params{bad}.Map("param")
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "NAME=VALUE") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParamsMap(f *testing.F) {
	f.Add("ip=10.0.0.5")
	f.Add("=")
	f.Add("a==b")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Params{s}.Map("param")
		if err != nil {
			return
		}
		k, v, _ := strings.Cut(s, "=")
		if len(m) != 1 || m[k] != v || k == "" {
			t.Fatalf("%q -> %v", s, m)
		}
	})
}
