package api

// Failure codes of resize (enum drbd_ret_code).
const (
	ErrResizeResync = 130
	ErrNoPrimary    = 131
)

func init() {
	FailureTexts[ErrResizeResync] = "Resize not allowed during resync."
	FailureTexts[ErrNoPrimary] = "Need one Primary node to resize."
}
