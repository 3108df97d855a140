package meta

import (
	"fmt"
	"strings"
)

// PPSize formats a size in KiB as drbdmeta does ("256 MB", "4 GB").
func PPSize(kb uint64) string {
	units := "KMGTPE"
	base := 0
	for kb >= 10000 && base < len(units)-1 {
		r := uint64(0)
		if kb&(1<<9) != 0 {
			r = 1
		}
		kb = kb>>10 + r
		base++
	}
	return fmt.Sprintf("%d %cB", uint32(kb), units[base])
}

// ShowGI is drbdmeta's show-gi text for a super block.
func (s *SuperBlock) ShowGI() string {
	var b strings.Builder
	b.WriteString("\n" +
		"       +--<  Current data generation UUID  >-\n" +
		"       |               +--<  Bitmap's base data generation UUID  >-\n" +
		"       |               |                 +--<  younger history UUID  >-\n" +
		"       |               |                 |         +-<  older history  >-\n" +
		"       V               V                 V         V\n")
	b.WriteString(s.GI() + "\n")
	b.WriteString("" +
		"                                                                    ^ ^ ^ ^ ^ ^ ^\n" +
		"                                      -<  Data consistency flag  >--+ | | | | | |\n" +
		"                             -<  Data was/is currently up-to-date  >--+ | | | | |\n" +
		"                                  -<  Node was/is currently primary  >--+ | | | |\n" +
		"                                  -<  Node was/is currently connected  >--+ | | |\n" +
		"         -<  Node was in the progress of setting all bits in the bitmap  >--+ | |\n" +
		"                        -<  The peer's disk was out-dated or inconsistent  >--+ |\n" +
		"      -<  This node was a crashed primary, and has not seen its peer since   >--+\n" +
		"\n")
	f := s.Flags
	pick := func(m uint32, yes, no string) string {
		if f&m != 0 {
			return yes
		}
		return no
	}
	disk := "Inconsistent"
	if f&FlagConsistent != 0 {
		disk = pick(FlagWasUpToDate, "UpToDate", "Outdated")
	}
	fmt.Fprintf(&b, "flags:%s %s, %s, %s%s%s\n", pick(FlagCrashedPrimary, " crashed", ""),
		pick(FlagPrimaryInd, "Primary", "Secondary"), pick(FlagConnectedInd, "Connected", "StandAlone"),
		disk, pick(FlagFullSync, ", need full sync", ""), pick(FlagPeerOutDated, ", peer Outdated", ""))
	fmt.Fprintf(&b, "meta-data: %s\n", pick(FlagALClean, "clean", "need apply-al"))
	if s.LaSizeSect != 0 {
		fmt.Fprintf(&b, "last agreed size: %s (%d sectors)\n", PPSize(s.LaSizeSect>>1), s.LaSizeSect)
		fmt.Fprintf(&b, "last agreed max bio size: %d Byte\n", s.LaPeerMaxBioSize)
	} else {
		b.WriteString("zero size device -- never seen peer yet?\n")
	}
	return b.String()
}

// DState is the disk state the meta data implies (drbdmeta dstate).
func (s *SuperBlock) DState() string {
	switch {
	case s.Flags&FlagConsistent == 0:
		return "Inconsistent"
	case s.Flags&FlagWasUpToDate == 0:
		return "Outdated"
	case s.Flags&FlagPeerOutDated != 0:
		return "UpToDate"
	}
	return "Consistent"
}
