package state_test

import (
	"fmt"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// A node attaches fresh meta data, configures the network and is
// promoted with --force, as in "drbdadm up r0; drbdadm primary --force
// r0" on the first node.
func ExampleMachine() {
	var n uint64
	m := state.NewMachine(state.Config{}, state.Policies{}, func() uint64 { n++; return n << 8 })
	m.Step(state.AttachFrom(0)) // create-md's flags: Inconsistent
	m.Step(state.Connect{})
	rv, _, _ := m.Step(state.Promote{})
	fmt.Println(rv)
	rv, acts, log := m.Step(state.Promote{Force: true})
	fmt.Println(rv, m.S)
	fmt.Println(log)
	fmt.Println(acts)
	// Output:
	// (-2) Need access to UpToDate data
	// (1) Success { cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown r----- }
	// [role( Secondary -> Primary ) disk( Inconsistent -> UpToDate ) Forced to consider local data as UpToDate!]
	// [write-meta]
}
