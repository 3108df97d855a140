// Package logging makes the one slog logger a program passes down: to the
// journal under systemd (with priority and SYSLOG_IDENTIFIER), else to
// stderr, plus ha.cf's logfile (info and up), debugfile (everything) and
// logfacility (syslog).
package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Options say where a daemon logs.
type Options struct {
	Program   string    // SYSLOG_IDENTIFIER and syslog tag
	Debug     bool      // debug level on the console
	Stderr    io.Writer // console; default os.Stderr
	Logfile   string    // ha.cf logfile: info and up
	Debugfile string    // ha.cf debugfile: debug and up
	Facility  string    // ha.cf logfacility: syslog facility name, "none" or ""
	// ForceConsole logs to Stderr even under systemd (tests).
	ForceConsole bool
}

// UnderSystemd reports whether stderr is connected to the journal.
func UnderSystemd() bool {
	return os.Getenv("JOURNAL_STREAM") != "" && journal.Enabled()
}

// New builds the logger and a closer for the files it opened.
func New(o Options) (*slog.Logger, func() error, error) {
	level := slog.LevelInfo
	if o.Debug {
		level = slog.LevelDebug
	}
	var hs []slog.Handler
	var closers []io.Closer
	if UnderSystemd() && !o.ForceConsole {
		hs = append(hs, &journalHandler{level: level, id: o.Program})
	} else {
		w := o.Stderr
		if w == nil {
			w = os.Stderr
		}
		hs = append(hs, slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	}
	for _, f := range []struct {
		path  string
		level slog.Level
	}{{o.Logfile, slog.LevelInfo}, {o.Debugfile, slog.LevelDebug}} {
		if f.path == "" || f.path == "/dev/null" {
			continue
		}
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			closeAll(closers)
			return nil, nil, fmt.Errorf("cannot open log file: %w", err)
		}
		closers = append(closers, fh)
		hs = append(hs, slog.NewTextHandler(&lockedWriter{w: fh}, &slog.HandlerOptions{Level: f.level}))
	}
	if o.Facility != "" && o.Facility != "none" {
		fac, ok := Facilities[o.Facility]
		if !ok {
			closeAll(closers)
			return nil, nil, fmt.Errorf("log facility %q is not valid", o.Facility)
		}
		sw, err := syslog.New(fac|syslog.LOG_INFO, o.Program)
		if err == nil { // no syslog daemon is normal on small machines
			closers = append(closers, sw)
			hs = append(hs, &syslogHandler{w: sw, level: level})
		}
	}
	var h slog.Handler = fanout(hs)
	if len(hs) == 1 {
		h = hs[0]
	}
	return slog.New(h), func() error { return closeAll(closers) }, nil
}

func closeAll(cs []io.Closer) error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Facilities maps syslog facility names as ha.cf spells them.
var Facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
	"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG,
	"lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS, "uucp": syslog.LOG_UUCP,
	"cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// flatten renders a record's message and attributes as one line:
// "msg key=value key=value".
func flatten(r slog.Record, pre []slog.Attr) string {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range pre {
		add(a)
	}
	r.Attrs(add)
	return b.String()
}

type journalHandler struct {
	level slog.Level
	id    string
	attrs []slog.Attr
}

func (j *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= j.level }
func (j *journalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": j.id}
	add := func(a slog.Attr) bool {
		k := strings.ToUpper(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, a.Key))
		if k != "" && k[0] != '_' {
			vars[k] = a.Value.String()
		}
		return true
	}
	for _, a := range j.attrs {
		add(a)
	}
	r.Attrs(add)
	return journal.Send(flatten(r, j.attrs), priority(r.Level), vars)
}
func (j *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *j
	c.attrs = append(append([]slog.Attr{}, j.attrs...), as...)
	return &c
}
func (j *journalHandler) WithGroup(string) slog.Handler { return j }

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

type syslogHandler struct {
	w     *syslog.Writer
	level slog.Level
	attrs []slog.Attr
}

func (s *syslogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= s.level }
func (s *syslogHandler) Handle(_ context.Context, r slog.Record) error {
	line := flatten(r, s.attrs)
	switch {
	case r.Level >= slog.LevelError:
		return s.w.Err(line)
	case r.Level >= slog.LevelWarn:
		return s.w.Warning(line)
	case r.Level >= slog.LevelInfo:
		return s.w.Info(line)
	}
	return s.w.Debug(line)
}
func (s *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *s
	c.attrs = append(append([]slog.Attr{}, s.attrs...), as...)
	return &c
}
func (s *syslogHandler) WithGroup(string) slog.Handler { return s }
