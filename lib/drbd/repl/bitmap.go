package repl

import (
	"encoding/binary"
	"fmt"

	"github.com/linux-ha-go/ha/lib/drbd/meta"
)

// socketBuffer is DRBD_SOCKET_BUFFER_SIZE: a plain P_BITMAP packet fills
// at most this much, header included.
const socketBuffer = 4096

func headerSize(version int) int {
	if version >= 100 {
		return 16
	}
	return 8
}

// SendBitmap sends the whole bitmap as plain P_BITMAP packets (64-bit
// little-endian words, as many as fit in DRBD's 4 KiB socket buffer per
// packet), as the WFBitMapS/T exchange does.
func SendBitmap(c *Conn, bm *meta.Bitmap) error {
	per := (socketBuffer - headerSize(c.Version)) / 8
	buf := make([]byte, 0, per*8)
	n := bm.Words()
	for off := 0; off < n || n == 0; off += per {
		buf = buf[:0]
		for i := off; i < min(off+per, n); i++ {
			buf = binary.LittleEndian.AppendUint64(buf, bm.Word(i))
		}
		if err := c.Send(PBitmap, buf); err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	return nil
}

// ReceiveBitmap reads P_BITMAP packets until the peer's whole bitmap (as
// many words as ours) has arrived and merges it into bm: a block out of
// sync on either side is resynced. It returns the number of bits added.
func ReceiveBitmap(c *Conn, bm *meta.Bitmap) (uint64, error) {
	var added uint64
	got, n := 0, bm.Words()
	for {
		h, p, err := c.Recv()
		if err != nil {
			return added, err
		}
		if h.Cmd != PBitmap {
			return added, fmt.Errorf("drbd: expected ReportBitMap, got %s", h.Cmd)
		}
		if len(p)%8 != 0 || got+len(p)/8 > n {
			return added, fmt.Errorf("drbd: bitmap packet of %d bytes does not fit (%d of %d words received)", len(p), got, n)
		}
		for i := 0; i < len(p); i += 8 {
			added += bm.OrWord(got, binary.LittleEndian.Uint64(p[i:]))
			got++
		}
		if got == n {
			return added, nil
		}
		if len(p) == 0 {
			return added, fmt.Errorf("drbd: empty bitmap packet before the end (%d of %d words)", got, n)
		}
	}
}
