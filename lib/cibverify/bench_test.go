package cibverify

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/cib/cibtest"
)

// The benchmarks of the issue: a CIB of 32 nodes and 5,000 resources is
// parsed, validated and written; one -M on it, end to end (read, change,
// validate, write atomically).

func big(b *testing.B) (*cib.CIB, []byte) {
	b.Helper()
	c := cibtest.Generate(32, 5000)
	return c, c.Bytes()
}

func BenchmarkParse32x5000(b *testing.B) {
	_, data := big(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cib.Parse("big", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate32x5000(b *testing.B) {
	c, _ := big(b)
	if r := Check(c, Options{}); r.Errors() > 0 {
		b.Fatalf("generated CIB has errors: %v", r.Findings[0])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Check(c, Options{})
	}
}

func BenchmarkWrite32x5000(b *testing.B) {
	c, _ := big(b)
	s := &cib.Store{Dir: b.TempDir(), Keep: 5}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Save(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkModify32x5000(b *testing.B) {
	_, data := big(b)
	path := filepath.Join(b.TempDir(), "cib.xml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	be := &cib.FileBackend{Path: path, Validate: Refuse}
	vals := []string{"5", "6"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &cib.Request{Op: cib.Modify, Input: `<nvpair id="r4321-mt" value="` + vals[i%2] + `"/>`}
		res, err := be.Do(context.Background(), r)
		if err != nil || !res.Changed {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

func genSmall() *cib.CIB { return cibtest.Generate(3, 40) }
