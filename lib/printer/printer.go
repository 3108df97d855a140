// Package printer renders one value as text for people, or as JSON or XML
// for scripts, so that every format comes from the same data.
package printer

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
)

// Format is an --output-as value.
type Format string

// The formats a command may offer.
const (
	Text Format = "text"
	JSON Format = "json"
	XML  Format = "xml"
)

// Flag is the --output-as flag, embedded in commands that print.
type Flag struct {
	OutputAs Format `name:"output-as" enum:"text,json,xml" default:"text" help:"Output format: text, json or xml."`
}

// ErrUnsupported is returned for a format a command cannot give.
type ErrUnsupported struct {
	Format  Format
	Command string
}

func (e ErrUnsupported) Error() string {
	return fmt.Sprintf("%s cannot print --output-as %s", e.Command, e.Format)
}

// Texter renders itself for people.
type Texter interface {
	WriteText(w io.Writer) error
}

// Print writes v in format f. Text needs v to implement Texter; XML needs
// v to be marshalable by encoding/xml (a command that cannot give XML
// passes a value that is not, and gets ErrUnsupported).
func Print(w io.Writer, f Format, command string, v any) error {
	switch f {
	case "", Text:
		t, ok := v.(Texter)
		if !ok {
			return ErrUnsupported{Format: f, Command: command}
		}
		return t.WriteText(w)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case XML:
		if _, ok := v.(xml.Marshaler); !ok {
			if _, err := xml.Marshal(v); err != nil {
				return ErrUnsupported{Format: f, Command: command}
			}
		}
		if _, err := io.WriteString(w, xml.Header); err != nil {
			return err
		}
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	}
	return ErrUnsupported{Format: f, Command: command}
}
