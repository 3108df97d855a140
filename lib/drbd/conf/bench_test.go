package conf

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParse200(b *testing.B) {
	var s strings.Builder
	s.WriteString("global { usage-count no; }\ncommon { net { protocol C; } disk { resync-rate 33M; } }\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&s, "resource r%d {\n  net { cram-hmac-alg sha1; shared-secret \"s%d\"; }\n  on alice { device minor %d; disk /dev/vg/r%d; meta-disk internal; address 10.0.%d.%d:%d; }\n  on bob { device minor %d; disk /dev/vg/r%d; meta-disk internal; address 10.1.%d.%d:%d; }\n}\n", i, i, i, i, i/250, i%250+1, 7000+i, i, i, i/250, i%250+1, 7000+i)
	}
	data := []byte(s.String())
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseBytes(memFS{}, "/etc/drbd.conf", "/etc/drbd.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}
