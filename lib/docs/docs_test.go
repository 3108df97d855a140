package docs

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's top directory (the one holding go.mod).
func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	bashCompletion = "completions/bash/hb-beat"
	zshCompletion  = "completions/zsh/_hb-beat"
	fishCompletion = "completions/fish/hb-beat.fish"
	beatMan        = "man/hb-beat.8"
	hacfMan        = "man/ha.cf.5"
	authkeysMan    = "man/authkeys.5"
)

var manPages = []string{beatMan, hacfMan, authkeysMan}

func need(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s, listed in .ci/packages.d/docs.txt)", prog, pkg)
	}
	return p
}

func run(t *testing.T, dir string, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// --- syntax and lint -------------------------------------------------------

func TestCompletionSyntax(t *testing.T) {
	for _, c := range []struct {
		name, prog, pkg, file string
		args                  []string
	}{
		{"bash", "bash", "bash", bashCompletion, []string{"-n"}},
		{"zsh", "zsh", "zsh", zshCompletion, []string{"-n"}},
		{"fish", "fish", "fish", fishCompletion, []string{"--no-execute"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			prog := need(t, c.prog, c.pkg)
			_, stderr, err := run(t, root(t), nil, prog, append(c.args, c.file)...)
			if err != nil || stderr != "" {
				t.Fatalf("%s %s %s: %v\n%s", c.prog, strings.Join(c.args, " "), c.file, err, stderr)
			}
		})
	}
}

func TestManPagesGroff(t *testing.T) {
	groff := need(t, "groff", "groff-base")
	for _, page := range manPages {
		t.Run(filepath.Base(page), func(t *testing.T) {
			_, stderr, err := run(t, root(t), nil, groff, "-man", "-Tutf8", "-ww", "-z", page)
			if err != nil || stderr != "" {
				t.Fatalf("groff -man -Tutf8 -ww -z %s: %v\n%s", page, err, stderr)
			}
		})
	}
}

func TestManPagesMandoc(t *testing.T) {
	mandoc := need(t, "mandoc", "mandoc")
	for _, page := range manPages {
		t.Run(filepath.Base(page), func(t *testing.T) {
			stdout, stderr, err := run(t, root(t), nil, mandoc, "-Tlint", "-Wwarning", page)
			if err != nil || stdout != "" || stderr != "" {
				t.Fatalf("mandoc -Tlint -Wwarning %s: %v\n%s%s", page, err, stdout, stderr)
			}
		})
	}
}

// --- the command line -------------------------------------------------------

// flag is a kong flag: its long name and its short letter, if any.
type flag struct{ long, short string }

// kongCLI reads hb-beat's kong model from the source: the commands of the
// CLI struct, and the flags of each command (commands[""] holds the
// global ones).
func kongCLI(t *testing.T) (cmds []string, flags map[string][]flag) {
	t.Helper()
	structs := map[string]*ast.StructType{}
	fset := token.NewFileSet()
	for _, f := range []string{"lib/beatcmd/beatcmd.go", "lib/cli/cli.go", "lib/printer/printer.go"} {
		file, err := parser.ParseFile(fset, filepath.Join(root(t), f), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	var flagsOf func(name string) []flag
	flagsOf = func(name string) []flag {
		st := structs[name]
		if st == nil {
			t.Fatalf("struct %s not found", name)
		}
		var fs []flag
		for _, f := range st.Fields.List {
			tag := fieldTag(f)
			if len(f.Names) == 0 { // embedded
				fs = append(fs, flagsOf(typeName(f.Type))...)
				continue
			}
			if _, ok := tag.Lookup("cmd"); ok {
				continue
			}
			if _, ok := tag.Lookup("arg"); ok {
				continue
			}
			if !f.Names[0].IsExported() || tag.Get("kong") == "-" {
				continue
			}
			long := tag.Get("name")
			if long == "" {
				long = kebab(f.Names[0].Name)
			}
			fs = append(fs, flag{long: long, short: tag.Get("short")})
		}
		return fs
	}
	cli := structs["CLI"]
	if cli == nil {
		t.Fatal("type CLI not found in lib/beatcmd/beatcmd.go")
	}
	flags = map[string][]flag{"": flagsOf("Globals")}
	for _, f := range cli.Fields.List {
		tag := fieldTag(f)
		if _, ok := tag.Lookup("cmd"); !ok || len(f.Names) == 0 {
			continue
		}
		name := tag.Get("name")
		if name == "" {
			name = kebab(f.Names[0].Name)
		}
		cmds = append(cmds, name)
		flags[name] = flagsOf(typeName(f.Type))
	}
	if len(cmds) < 5 {
		t.Fatalf("found only %d commands in CLI: %v", len(cmds), cmds)
	}
	return cmds, flags
}

func fieldTag(f *ast.Field) reflect.StructTag {
	if f.Tag == nil {
		return ""
	}
	s, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return ""
	}
	return reflect.StructTag(s)
}

func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.StarExpr:
		return typeName(x.X)
	}
	return ""
}

// kebab turns a Go field name into kong's default name: ClStatus →
// cl-status, OutputAs → output-as.
func kebab(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func roff(s string) string { return strings.ReplaceAll(s, "-", `\-`) }

// word reports whether w occurs in s as a whole word (bounded by neither
// a letter, a digit, '_' nor '-').
func word(s, w string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(w) + `($|[^A-Za-z0-9_-])`).MatchString(s)
}

func TestCommandsDocumented(t *testing.T) {
	cmds, flags := kongCLI(t)
	man := read(t, beatMan)
	bash, zsh, fish := read(t, bashCompletion), read(t, zshCompletion), read(t, fishCompletion)
	for _, c := range cmds {
		// A .TP entry of COMMANDS whose tag starts with the command.
		re := regexp.MustCompile(`(?m)^\.TP\n(\.BI? "?|\\fB)` + regexp.QuoteMeta(roff(c)) + `([ "\\]|$)`)
		if !re.MatchString(man) {
			t.Errorf("%s: command %s has no .TP entry", beatMan, c)
		}
		for file, text := range map[string]string{bashCompletion: bash, zshCompletion: zsh, fishCompletion: fish} {
			if !word(text, c) {
				t.Errorf("%s: command %s is not completed", file, c)
			}
		}
	}
	for cmd, fs := range flags {
		for _, f := range fs {
			where := "global flag"
			if cmd != "" {
				where = cmd + " flag"
			}
			if !strings.Contains(man, roff("--"+f.long)) {
				t.Errorf("%s: %s --%s is not documented", beatMan, where, f.long)
			}
			if !word(bash, "--"+f.long) {
				t.Errorf("%s: %s --%s is not completed", bashCompletion, where, f.long)
			}
			if !word(zsh, "--"+f.long) {
				t.Errorf("%s: %s --%s is not completed", zshCompletion, where, f.long)
			}
			if !strings.Contains(fish, "-l "+f.long+" ") {
				t.Errorf("%s: %s --%s is not completed", fishCompletion, where, f.long)
			}
			if f.short == "" {
				continue
			}
			if !regexp.MustCompile(`\\-` + f.short + `\b`).MatchString(man) {
				t.Errorf("%s: %s -%s is not documented", beatMan, where, f.short)
			}
			if !word(bash, "-"+f.short) || !word(zsh, "-"+f.short) {
				t.Errorf("bash or zsh completion: %s -%s is not completed", where, f.short)
			}
			if !strings.Contains(fish, "-s "+f.short+" ") {
				t.Errorf("%s: %s -%s is not completed", fishCompletion, where, f.short)
			}
		}
	}
	for _, env := range []string{"HA_CONFDIR", "HA_STATEDIR", "HA_RUNDIR", "HA_NODENAME", "HB_BIND"} {
		if !strings.Contains(man, env) {
			t.Errorf("%s: environment variable %s is not documented", beatMan, env)
		}
	}
}

// clSubcommands are the sub-commands lib/beat/clstatus.go answers.
func clSubcommands(t *testing.T) []string {
	src := read(t, "lib/beat/clstatus.go")
	m := regexp.MustCompile(`case "hbstatus",[^:]*:`).FindString(src)
	if m == "" {
		t.Fatal("lib/beat/clstatus.go: the list of sub-commands (case \"hbstatus\", ...) not found")
	}
	return regexp.MustCompile(`"([a-z]+)"`).FindAllString(m, -1)
}

func TestClStatusDocumented(t *testing.T) {
	man := read(t, beatMan)
	files := map[string]string{bashCompletion: read(t, bashCompletion), zshCompletion: read(t, zshCompletion), fishCompletion: read(t, fishCompletion)}
	for _, q := range clSubcommands(t) {
		sub, _ := strconv.Unquote(q)
		if !regexp.MustCompile(`(?m)^(\.TP\n)?(\.B[IR]? "?|\\fB)` + sub + `\b`).MatchString(man) {
			t.Errorf("%s: cl-status %s is not documented", beatMan, sub)
		}
		for file, text := range files {
			if !word(text, sub) {
				t.Errorf("%s: cl-status %s is not completed", file, sub)
			}
		}
	}
}

// TestLogMessagesDocumented checks that the log wording of lib/beat
// (core.go's Log{Msg: ...} and the daemon's d.log calls) is in LOG
// MESSAGES, so that people can grep for what the page says.
func TestLogMessagesDocumented(t *testing.T) {
	man := read(t, beatMan)
	i := strings.Index(man, ".SH LOG MESSAGES")
	if i < 0 {
		t.Fatalf("%s: no LOG MESSAGES section", beatMan)
	}
	section := man[i:]
	if j := strings.Index(section[1:], "\n.SH "); j >= 0 {
		section = section[:j+1]
	}
	section = strings.ReplaceAll(section, `\-`, "-")
	fset := token.NewFileSet()
	var msgs []string
	for _, f := range []string{"core.go", "daemon.go", "ping.go"} {
		file, err := parser.ParseFile(fset, filepath.Join(root(t), "lib/beat", f), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Msg" {
					if s := formatOf(x.Value); s != "" {
						msgs = append(msgs, s)
					}
				}
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok || len(x.Args) == 0 {
					break
				}
				switch sel.Sel.Name {
				case "Info", "Warn", "Error":
				default:
					return true
				}
				if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "log" {
					if s := formatOf(x.Args[0]); s != "" {
						msgs = append(msgs, s)
					}
				}
			}
			return true
		})
	}
	if len(msgs) < 10 {
		t.Fatalf("found only %d log messages in lib/beat: %q", len(msgs), msgs)
	}
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	for _, m := range msgs {
		for _, piece := range verb.Split(m, -1) {
			piece = strings.TrimSpace(piece)
			if len(piece) < 2 {
				continue
			}
			if !strings.Contains(section, piece) {
				t.Errorf("%s: log message %q is not in LOG MESSAGES (missing %q)", beatMan, m, piece)
			}
		}
	}
}

// formatOf returns a string literal, or the format of fmt.Sprintf(literal, ...).
func formatOf(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, _ := strconv.Unquote(x.Value)
			return s
		}
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(x.Args) > 0 {
			return formatOf(x.Args[0])
		}
	}
	return ""
}

// --- ha.cf -----------------------------------------------------------------

// hacfDirectives reads the keys of lib/hacf/hacf.go's
// `directives = map[string]handler{...}` and which have noEffect: true.
func hacfDirectives(t *testing.T) (all []string, noEffect map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filepath.Join(root(t), "lib/hacf/hacf.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	noEffect = map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		if id, ok := as.Lhs[0].(*ast.Ident); !ok || id.Name != "directives" {
			return true
		}
		lit, ok := as.Rhs[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			key, ok := kv.Key.(*ast.BasicLit)
			if !ok {
				continue
			}
			name, _ := strconv.Unquote(key.Value)
			all = append(all, name)
			if h, ok := kv.Value.(*ast.CompositeLit); ok {
				for _, f := range h.Elts {
					if fkv, ok := f.(*ast.KeyValueExpr); ok {
						k, _ := fkv.Key.(*ast.Ident)
						v, _ := fkv.Value.(*ast.Ident)
						if k != nil && v != nil && k.Name == "noEffect" && v.Name == "true" {
							noEffect[name] = true
						}
					}
				}
			}
		}
		return false
	})
	if len(all) < 20 {
		t.Fatalf("lib/hacf/hacf.go: found only %d directives: %v", len(all), all)
	}
	return all, noEffect
}

// manDirectives lists the directives ha.cf.5 documents in DIRECTIVES: the
// first word of each .TP tag, by subsection.
func manDirectives(t *testing.T) map[string]string {
	t.Helper()
	man := read(t, hacfMan)
	i := strings.Index(man, "\n.SH DIRECTIVES\n")
	if i < 0 {
		t.Fatalf("%s: no DIRECTIVES section", hacfMan)
	}
	sec := man[i+1:]
	if j := strings.Index(sec[1:], "\n.SH "); j >= 0 {
		sec = sec[:j+1]
	}
	docs := map[string]string{}
	sub := ""
	lines := strings.Split(sec, "\n")
	tag := regexp.MustCompile(`^\.B[IR]? "?([a-z0-9_]+)`)
	for k, l := range lines {
		if strings.HasPrefix(l, ".SS ") {
			sub = strings.Trim(strings.TrimPrefix(l, ".SS "), `"`)
		}
		if l == ".TP" && k+1 < len(lines) {
			m := tag.FindStringSubmatch(lines[k+1])
			if m == nil {
				t.Errorf("%s: .TP tag %q does not start with a directive", hacfMan, lines[k+1])
				continue
			}
			if prev, dup := docs[m[1]]; dup {
				t.Errorf("%s: directive %s documented twice (%s, %s)", hacfMan, m[1], prev, sub)
			}
			docs[m[1]] = sub
		}
	}
	return docs
}

const noEffectSection = "Accepted with no effect"

func TestDirectivesDocumented(t *testing.T) {
	all, noEffect := hacfDirectives(t)
	docs := manDirectives(t)
	known := map[string]bool{}
	for _, d := range all {
		known[d] = true
		sub, ok := docs[d]
		switch {
		case !ok:
			t.Errorf("%s: directive %s (lib/hacf/hacf.go) is not documented", hacfMan, d)
		case noEffect[d] && sub != noEffectSection:
			t.Errorf("%s: directive %s has no effect but is documented under %q, not %q", hacfMan, d, sub, noEffectSection)
		case !noEffect[d] && sub == noEffectSection:
			t.Errorf("%s: directive %s takes effect or is checked, but is documented under %q", hacfMan, d, noEffectSection)
		}
	}
	var extra []string
	for d := range docs {
		if !known[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s documents directives lib/hacf/hacf.go does not know: %v", hacfMan, extra)
	}
	// cl-status hbparameter -p completes every directive but those it
	// never answers.
	never := map[string]bool{"node": true, "apiauth": true, "stonith": true, "nice_failback": true}
	for _, file := range []string{bashCompletion, zshCompletion, fishCompletion} {
		text := read(t, file)
		for _, d := range all {
			if !never[d] && !word(text, d) {
				t.Errorf("%s: ha.cf parameter %s is not completed for cl-status hbparameter -p", file, d)
			}
		}
	}
}

// --- the completions at work -------------------------------------------------

// bashComplete runs the bash completion for the words given (the last one
// being completed) and returns what it offers.
func bashComplete(t *testing.T, env []string, words ...string) []string {
	t.Helper()
	bash := need(t, "bash", "bash")
	const script = `
source "$1"; shift
spec=$(complete -p hb-beat) || exit 1
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" hb-beat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	args := append([]string{"-c", script, "bash", filepath.Join(root(t), bashCompletion)}, words...)
	stdout, stderr, err := run(t, t.TempDir(), env, bash, args...)
	if err != nil || stderr != "" {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, stderr)
	}
	out := strings.Fields(stdout)
	sort.Strings(out)
	return out
}

// completionEnv is an environment with no running hb-beat to ask (an
// empty rundir) and confdir as HA_CONFDIR; bin, when set, comes first in
// PATH.
func completionEnv(t *testing.T, confdir, bin string) []string {
	path := os.Getenv("PATH")
	if bin != "" {
		path = bin + string(os.PathListSeparator) + path
	}
	return []string{"PATH=" + path, "HOME=" + t.TempDir(), "LC_ALL=C",
		"HA_RUNDIR=" + t.TempDir(), "HA_CONFDIR=" + confdir}
}

const testHACF = `# two nodes and a third
node  Alpha,beta   # comment
  node gamma
bcast eth1
ucast eth0 10.0.0.1
`

// nodesJSON is what `hb-beat nodes --output-as json` prints: node names
// at the top level, link names below.
const nodesJSON = `[
  {
    "name": "n1",
    "type": "normal",
    "status": "active",
    "self": true,
    "deadtime_ms": 4000,
    "links": [
      {
        "name": "lo",
        "status": "up"
      }
    ]
  },
  {
    "name": "n2",
    "type": "normal",
    "status": "dead",
    "deadtime_ms": 4000,
    "links": [
      {
        "name": "lo",
        "status": "dead"
      }
    ]
  }
]`

func TestBashCompletes(t *testing.T) {
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "ha.cf"), []byte(testHACF), 0o644); err != nil {
		t.Fatal(err)
	}
	// A fake hb-beat that answers `nodes --output-as json` as the daemon does.
	bin := t.TempDir()
	fake := "#!/bin/sh\ncase \" $* \" in *\" nodes \"*) cat <<'EOF'\n" + nodesJSON + "\nEOF\n;; *) exit 7;; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "hb-beat"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	noDaemon := completionEnv(t, conf, "")
	daemon := completionEnv(t, conf, bin)
	for _, c := range []struct {
		env   []string
		words []string
		want  []string
	}{
		{noDaemon, []string{"hb-beat", "cl-"}, []string{"cl-status"}},
		{noDaemon, []string{"hb-beat", "nodes", "--output-as", ""}, []string{"json", "text", "xml"}},
		{noDaemon, []string{"hb-beat", "watch", "--output-as", "=", "j"}, []string{"json"}},
		{noDaemon, []string{"hb-beat", "nodes", "--output-as=x"}, []string{"--output-as=xml"}},
		{noDaemon, []string{"hb-beat", "--rundir", "/nonexistent", "ver"}, []string{"version"}},
		{noDaemon, []string{"hb-beat", "cl-status", "hbparameter", "-p", "deadt"}, []string{"deadtime"}},
		{noDaemon, []string{"hb-beat", "cl-status", "listnodes", "-"}, []string{"-m", "-n", "-p"}},
		{noDaemon, []string{"hb-beat", "cl-status", "nodestatus", ""}, []string{"alpha", "beta", "gamma"}},
		{noDaemon, []string{"hb-beat", "send", "--to", "g"}, []string{"gamma"}},
		{noDaemon, []string{"hb-beat", "cl-status", "hblinkstatus", "alpha", ""}, []string{"eth0", "eth1"}},
		{daemon, []string{"hb-beat", "cl-status", "nodestatus", ""}, []string{"n1", "n2"}},
		{daemon, []string{"hb-beat", "--node", ""}, []string{"n1", "n2"}},
	} {
		got := bashComplete(t, c.env, c.words...)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("bash completion of %q = %q, want %q", c.words, got, c.want)
		}
	}
	// Every command is offered at the start.
	cmds, _ := kongCLI(t)
	sort.Strings(cmds)
	if got := bashComplete(t, noDaemon, "hb-beat", ""); !reflect.DeepEqual(got, cmds) {
		t.Errorf("bash completion of commands = %q, want %q", got, cmds)
	}
}

func TestFishCompletes(t *testing.T) {
	fish := need(t, "fish", "fish")
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "ha.cf"), []byte(testHACF), 0o644); err != nil {
		t.Fatal(err)
	}
	env := completionEnv(t, conf, "")
	for _, c := range []struct {
		line string
		want []string
	}{
		{"hb-beat cl-", []string{"cl-status"}},
		{"hb-beat nodes --output-as ", []string{"json", "text", "xml"}},
		{"hb-beat cl-status nodestatus ", []string{"alpha", "beta", "gamma"}},
		{"hb-beat cl-status hbparameter -p deadt", []string{"deadtime"}},
	} {
		stdout, stderr, err := run(t, t.TempDir(), env, fish, "--no-config", "-c",
			`source $argv[1]; complete -C $argv[2]`, filepath.Join(root(t), fishCompletion), c.line)
		if err != nil || stderr != "" {
			t.Fatalf("fish completion of %q: %v\n%s", c.line, err, stderr)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			if l != "" {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("fish completion of %q = %q, want %q", c.line, got, c.want)
		}
	}
}
