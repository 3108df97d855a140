package printer

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"testing"
)

type node struct {
	XMLName xml.Name `json:"-" xml:"node"`
	Name    string   `json:"name" xml:"name,attr"`
	Status  string   `json:"status" xml:"status,attr"`
}

func (n node) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s is %s\n", n.Name, n.Status)
	return err
}

// The three formats come from the same value.
func TestFormats(t *testing.T) {
	v := node{Name: "node1", Status: "active"}
	want := map[Format]string{
		Text: "node1 is active\n",
		JSON: "{\n  \"name\": \"node1\",\n  \"status\": \"active\"\n}\n",
		XML:  xml.Header + "<node name=\"node1\" status=\"active\"></node>\n",
	}
	for f, w := range want {
		var b bytes.Buffer
		if err := Print(&b, f, "test", v); err != nil {
			t.Fatal(err)
		}
		if b.String() != w {
			t.Errorf("%s:\n got %q\nwant %q", f, b.String(), w)
		}
	}
}

func TestUnsupported(t *testing.T) {
	var b bytes.Buffer
	err := Print(&b, Text, "hb-x list", map[string]int{"a": 1})
	var u ErrUnsupported
	if !errors.As(err, &u) || err.Error() != "hb-x list cannot print --output-as text" {
		t.Fatalf("text of a non-Texter: %v", err)
	}
	if err := Print(&b, XML, "hb-x list", map[string]int{"a": 1}); !errors.As(err, &u) {
		t.Fatalf("xml of a map: %v", err)
	}
}
