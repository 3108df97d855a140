package hacf

import (
	"bufio"

	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/linux-ha-go/ha/lib/wire"
)

// LoadAuthkeys reads an authkeys file after checking, as heartbeat does,
// that it is readable by its owner only, and (our addition) owned by the
// user running the daemon.
func LoadAuthkeys(path string) (*wire.Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot open keyfile: %v (create it with `auth 1` and `1 sha1 SECRET`, mode 0600)", unwrapPath(err))}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if st.Mode().Perm()&0o044 != 0 {
		return nil, &Error{File: path, Msg: fmt.Sprintf("bad permissions on keyfile (mode %04o): it must not be readable by group or others; fix with: chmod 600 %s", st.Mode().Perm(), path)}
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return nil, &Error{File: path, Msg: fmt.Sprintf("keyfile is owned by uid %d, not by uid %d which runs hb-beat; fix with: chown %d %s", sys.Uid, os.Geteuid(), os.Geteuid(), path)}
	}
	return ParseAuthkeys(path, f)
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// ParseAuthkeys reads authkeys text: `auth N` and entries `N method [key]`.
func ParseAuthkeys(name string, r io.Reader) (*wire.Keyring, error) {
	ring := &wire.Keyring{Keys: map[int]*wire.Key{}}
	authIdx, authLine := -1, 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		errAt := func(format string, args ...any) error {
			return &Error{File: name, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		if f[0] == "auth" {
			if len(f) != 2 {
				return nil, errAt("expected `auth N` with N the index of the entry to sign with")
			}
			i, err := strconv.Atoi(f[1])
			if err != nil || i < 0 || i > 15 {
				return nil, errAt("auth %q: expected an index from 0 to 15", f[1])
			}
			authIdx, authLine = i, n
			continue
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil || idx < 0 || idx > 15 {
			return nil, errAt("%q is neither `auth` nor a key index from 0 to 15", f[0])
		}
		if len(f) < 2 {
			return nil, errAt("key %d: missing method: expected `%d sha1 SECRET`, `%d md5 SECRET` or `%d crc`", idx, idx, idx, idx)
		}
		if _, dup := ring.Keys[idx]; dup {
			return nil, errAt("key %d is defined twice", idx)
		}
		k := &wire.Key{Index: idx, Method: wire.Method(strings.ToLower(f[1]))}
		switch k.Method {
		case wire.CRC:
			if len(f) > 2 {
				return nil, errAt("auth method [crc] doesn't use a key: remove %q", f[2])
			}
		case wire.MD5, wire.SHA1:
			if len(f) < 3 {
				return nil, errAt("auth method [%s] requires a key", k.Method)
			}
			if len(f) > 3 {
				return nil, errAt("the key must be one token without spaces")
			}
			k.Secret = []byte(f[2])
		default:
			return nil, errAt("invalid authtype [%s]: expected sha1, md5 or crc", f[1])
		}
		ring.Keys[idx] = k
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	if authIdx < 0 {
		return nil, &Error{File: name, Msg: "missing auth directive: add `auth N` naming the entry to sign with"}
	}
	ring.Send = ring.Keys[authIdx]
	if ring.Send == nil {
		return nil, &Error{File: name, Line: authLine, Msg: fmt.Sprintf("auth key [%d] not found in keyfile", authIdx)}
	}
	return ring, nil
}
