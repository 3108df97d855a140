package adm

import "strings"

// Legacy rewrites drbdadm's old command lines into the current form:
// `-- --discard-my-data connect r0` (options for the helper after "--",
// before the command) becomes `connect --discard-my-data r0`, and the
// 8.3 option --overwrite-data-of-peer becomes --force.
func Legacy(args []string) []string {
	i := -1
	for k, a := range args {
		if a == "--" {
			i = k
			break
		}
	}
	if i < 0 {
		return args
	}
	var flags, rest []string
	for _, a := range args[i+1:] {
		if strings.HasPrefix(a, "-") && len(rest) == 0 {
			if a == "--overwrite-data-of-peer" {
				a = "--force"
			}
			flags = append(flags, a)
		} else {
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return args
	}
	out := append([]string{}, args[:i]...)
	out = append(out, rest[0])
	out = append(out, flags...)
	return append(out, rest[1:]...)
}
