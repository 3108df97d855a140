package cib

import (
	"context"
	"errors"

	"github.com/linux-ha-go/ha/lib/exitcode"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// Register installs the CIB operations on a daemon's socket server:
// "cib.do" (args Request, result Result) and "cib.load" (result
// {"xml": "..."}), answered by be. hb-crmd registers its replicating
// backend here; SocketBackend is the client side, so hb-cibadmin runs
// the same commands on a file and on the live cluster.
func Register(s *ipc.Server, be Backend) {
	s.Handle("cib.do", func(ctx context.Context, c *ipc.Call) (any, error) {
		var r Request
		if err := c.Decode(&r); err != nil {
			return nil, err
		}
		res, err := be.Do(ctx, &r)
		if err != nil {
			return nil, wireError(err)
		}
		return res, nil
	})
	s.Handle("cib.load", func(ctx context.Context, c *ipc.Call) (any, error) {
		doc, err := be.Load(ctx)
		if err != nil {
			return nil, wireError(err)
		}
		return map[string]string{"xml": doc.String()}, nil
	})
}

func wireError(err error) error {
	code, msg, hint := exitcode.Of(err), err.Error(), exitcode.HintOf(err)
	var ce *Error
	if errors.As(err, &ce) {
		code, msg, hint = ce.Code, ce.Msg, ce.Hint
	}
	kind := ipc.CodeRefused
	switch code {
	case exitcode.NoSuch:
		kind = ipc.CodeNotFound
	case exitcode.Exists:
		kind = ipc.CodeExists
	}
	return ipc.Errorf(kind, code, "%s", msg).WithHint(hint)
}
