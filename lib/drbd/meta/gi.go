package meta

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInconsistent is drbdmeta outdate's refusal (exit code 5).
var ErrInconsistent = errors.New("Device is inconsistent.")

// Outdate marks Consistent data Outdated (drbdmeta outdate).
func (s *SuperBlock) Outdate() error {
	if s.Flags&FlagConsistent == 0 {
		return ErrInconsistent
	}
	s.Flags &^= FlagWasUpToDate
	return nil
}

// Invalidate marks the data Inconsistent and due for a full sync
// (drbdmeta invalidate).
func (s *SuperBlock) Invalidate() {
	s.Flags &^= FlagConsistent | FlagWasUpToDate
	s.Flags |= FlagFullSync
}

// ErrBadGI is returned for a set-gi argument drbdmeta rejects (exit 10).
var ErrBadGI = errors.New("bad generation identifier")

// SetGI applies a set-gi argument, CURRENT:BITMAP:HIST0:HIST1:c:u:p:n:f:o:x
// (UUIDs in hex, flag digits 0 or 1); empty or missing fields keep their
// value, as with drbdmeta.
func (s *SuperBlock) SetGI(spec string) error {
	fields := strings.Split(spec, ":")
	for i, f := range fields {
		if i >= 4+7 {
			break
		}
		if f == "" {
			continue
		}
		if i < 4 {
			v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X"), 16, 64)
			if err != nil {
				return fmt.Errorf("%w: '%s' is not a number.", ErrBadGI, f)
			}
			s.UUID[i] = v
			continue
		}
		v, err := strconv.ParseUint(f, 0, 32)
		if err != nil {
			return fmt.Errorf("%w: '%s' is not a number.", ErrBadGI, f)
		}
		if v > 1 {
			return fmt.Errorf("%w: '%d' is not 0 or 1.", ErrBadGI, v)
		}
		mask := []uint32{FlagConsistent, FlagWasUpToDate, FlagPrimaryInd, FlagConnectedInd, FlagFullSync, FlagPeerOutDated, FlagCrashedPrimary}[i-4]
		if v == 1 {
			s.Flags |= mask
		} else {
			s.Flags &^= mask
		}
	}
	return nil
}
