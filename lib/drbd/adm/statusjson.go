package adm

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/linux-ha-go/ha/lib/drbd/api"
)

// jsonStatus is status --json: godrbd answers each resource as a JSON
// array of one object (drbdsetup status --json's layout); godrbdadm
// prints all of them as one array, so that a parser reads one document.
type jsonStatus struct {
	on    bool
	items []json.RawMessage
}

func (r *runner) wantsJSONStatus(req *api.Request) bool {
	if req.Op != api.OpStatus {
		return false
	}
	_, ok := req.Flag("json")
	return ok
}

// collectStatus keeps the resources of one status --json reply.
func (r *runner) collectStatus(text string) error {
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil {
		return fmt.Errorf("godrbd's status --json reply is not a JSON array: %w", err)
	}
	r.js.on = true
	r.js.items = append(r.js.items, items...)
	return nil
}

// flushStatus prints the collected resources as one JSON array.
func (r *runner) flushStatus(w io.Writer) error {
	if !r.js.on {
		return nil
	}
	items := r.js.items
	if items == nil {
		items = []json.RawMessage{}
	}
	b, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	r.js = jsonStatus{}
	return err
}
