package meta

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrCancelled is drbdmeta's "Operation cancelled." (exit code 1): the
// user did not confirm.
var ErrCancelled = errors.New("Operation cancelled.")

// Prompter answers drbdmeta's confirmation questions as drbdmeta does:
// --force says yes, without a terminal nobody is asked (no), on a
// terminal the answer must be "yes".
type Prompter struct {
	Force bool
	TTY   bool      // stdin is a terminal
	In    io.Reader // the answers, when TTY
}

// Confirm asks text on stderr (drbdmeta's confirmed()).
func (p Prompter) Confirm(stderr io.Writer, text string) bool {
	fmt.Fprintf(stderr, "\n%s\n", text)
	if p.Force {
		fmt.Fprintf(stderr, "*** confirmation forced via --force option ***\n")
		return true
	}
	if !p.TTY || p.In == nil {
		fmt.Fprintf(stderr, "stdin not a TTY, not waiting for confirmation\n")
		return false
	}
	fmt.Fprintf(stderr, "[need to type 'yes' to confirm] ")
	line, _ := bufio.NewReader(p.In).ReadString('\n')
	fmt.Fprintf(stderr, "\n")
	return line == "yes\n"
}

// CreateMD is drbdmeta's create-md with its messages: it asks before
// overwriting valid meta data, checks the device for data the meta data
// would destroy (ErrRefused, exit code 40), and writes fresh meta data.
func CreateMD(d *Device, stdout, stderr io.Writer, p Prompter) error {
	if d.Layout.Index == Internal {
		if _, err := d.Read(); err == nil {
			fmt.Fprintf(stderr, "You want me to create a v08 style flexible-size internal meta data block.\n"+
				"There appears to be a v08 flexible-size internal meta data block\n"+
				"already in place on %s at byte offset %d\n", d.Path, d.Layout.MDOffset)
			if !p.Confirm(stderr, "Do you really want to overwrite the existing meta-data?") {
				fmt.Fprintf(stdout, "Operation cancelled.\n")
				return ErrCancelled
			}
		}
	}
	l, err := NewLayout(d.Layout.Index, d.Size)
	if err != nil {
		return err
	}
	confirm, err := d.CheckExistingData(stdout, l)
	if err != nil {
		return err
	}
	if confirm && !p.Confirm(stderr, "Do you want to proceed?") {
		fmt.Fprintf(stdout, "Operation canceled.\n") // sic, as drbdmeta
		return ErrCancelled
	}
	fmt.Fprintf(stdout, "initializing activity log\n")
	fmt.Fprintf(stderr, "initializing bitmap (%s) to all zero\n", PPSize(BitmapBytes(d.Size>>9)>>10))
	fmt.Fprintf(stdout, "Writing meta data...\n")
	if _, err := d.Create(true); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New drbd meta data block successfully created.\n")
	return nil
}

// WipeMD is drbdmeta's wipe-md with its messages.
func WipeMD(d *Device, stdout, stderr io.Writer, p Prompter) error {
	if _, err := d.Read(); err != nil {
		fmt.Fprintf(stderr, "There appears to be no drbd meta data to wipe out?\n")
		return nil
	}
	if !p.Confirm(stderr, "Do you really want to wipe out the DRBD meta data?") {
		fmt.Fprintf(stdout, "Operation cancelled.\n")
		return ErrCancelled
	}
	fmt.Fprintf(stdout, "Wiping meta data...\n")
	if err := d.Wipe(); err != nil {
		fmt.Fprintf(stderr, "operation failed\n")
		return err
	}
	fmt.Fprintf(stdout, "DRBD meta data block successfully wiped out.\n")
	return nil
}

// ExitCode maps the errors of this package to drbdmeta's exit codes.
func ExitCode(err error) int {
	var ts *TooSmallError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrRefused):
		return 40
	case errors.Is(err, ErrCancelled), errors.Is(err, ErrNoMetaData):
		return 1
	case errors.Is(err, ErrInconsistent):
		return 5
	case errors.As(err, &ts), errors.Is(err, ErrBadGI):
		return 10
	}
	return 20
}
