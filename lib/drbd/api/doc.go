package api

// Arguments of each operation, as godrbdadm fills them in (Request.Args;
// Options and Flags as noted). Every request with a resource carries
// Config; per-volume requests set Volume and Minor.
//
//	op                  Args                          Options / Flags
//	new-resource        RES                           resource options
//	new-minor           RES MINOR VNR
//	apply-al            MINOR META-DEV INDEX          (INDEX: internal, flex-external, flex-internal or N)
//	create-md           MINOR META-DEV INDEX          flag force
//	dump-md, wipe-md    MINOR META-DEV INDEX          flag force (wipe-md)
//	attach              MINOR DISK META-DEV INDEX     disk options (INDEX: internal, flexible or N)
//	connect             RES LOCAL PEER                net options; flags discard-my-data, tentative
//	disconnect          LOCAL PEER
//	down, status        RES
//	show                RES (no Config)               reply: Running as JSON (godrbdadm adjust compares it with the file)
//	resource-options    RES [--set-defaults]          resource options
//	disk-options        MINOR [--set-defaults]        disk options
//	net-options         LOCAL PEER [--set-defaults]   net options (--set-defaults: the options given replace all)
//	del-minor           MINOR
//	primary             MINOR                         flag force
//	detach              MINOR                         flag force
//	resize              MINOR                         option size (from the configuration) or flag size; flags assume-peer-has-space, assume-clean
//	verify              MINOR                         flag start
//	new-current-uuid    MINOR                         flag clear-bitmap
//	wait-connect        MINOR                         startup options (wfc-timeout, degr-wfc-timeout, ...)
//	secondary, invalidate, invalidate-remote, outdate, pause-sync, resume-sync,
//	suspend-io, resume-io, check-resize, role, cstate, dstate, get-gi, show-gi, wait-sync
//	                    MINOR
//	proc                (none)
//
// LOCAL and PEER are addresses in drbdsetup's form (Endpoint.String):
// ipv4:10.0.0.1:7789, ipv6:[fd00::1]:7789; PEER is "N/A" when the
// configuration names no peer (only in a dry run; godrbdadm refuses to
// connect without a peer).
//
// A refusal is returned as Refusal.IPC(): godrbdadm prints
// "0: State change failed: (-2) Need access to UpToDate data" and
// "Command 'godrbd primary 0' terminated with exit code 17", and exits
// with Refusal.ExitCode(). Any other *ipc.Error is printed with its hint
// and ends godrbdadm with its Exit code (20 when unset).
