# fish completion for hb-beat(8): commands, options, --output-as formats,
# cl-status sub-commands and ha.cf parameter names, and node and link names
# from the running daemon (`hb-beat nodes --output-as json`), else from the
# node lines of ha.cf ($HA_CONFDIR/ha.cf, --confdir's ha.cf or
# /etc/ha.d/ha.cf).

# The value of a global option on the command line.
function __hb_beat_optval
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case $argv[1]
                set -l j (math $i + 1)
                test $j -le $n; and echo $tokens[$j]
                return
            case "$argv[1]=*"
                string replace -- "$argv[1]=" '' $tokens[$i]
                return
        end
    end
end

# The top-level names of `hb-beat WHAT --output-as json`; fails when the
# daemon does not answer.
function __hb_beat_ask
    command -q hb-beat; or return 1
    set -l a
    set -l v (__hb_beat_optval --rundir)
    test -n "$v"; and set a --rundir $v
    set -l out (hb-beat $a $argv[1] --output-as json 2>/dev/null)
    test -n "$out"; or return 1
    if command -q jq
        printf '%s\n' $out | jq -r '.[].name' 2>/dev/null
    else
        printf '%s\n' $out | string replace -rf '^    "name": "([^"]*)".*' '$1'
    end
    return 0
end

function __hb_beat_hacf
    set -l d (__hb_beat_optval --confdir)
    test -n "$d"; or set d $HA_CONFDIR
    test -n "$d"; or set d /etc/ha.d
    echo $d/ha.cf
end

function __hb_beat_nodes
    __hb_beat_ask nodes; and return
    set -l conf (__hb_beat_hacf)
    test -r $conf; or return
    sed -e 's/#.*//' -e 's/^[[:space:]]*//' $conf |
        awk -F '[ \t,]+' '$1 == "node" { for (i = 2; i <= NF; i++) if ($i != "") print tolower($i) }'
end

function __hb_beat_links
    __hb_beat_ask links; and return
    set -l conf (__hb_beat_hacf)
    test -r $conf; or return
    sed -e 's/#.*//' -e 's/^[[:space:]]*//' $conf |
        awk -F '[ \t,]+' '
            $1 == "bcast" || $1 == "udp" { for (i = 2; i <= NF; i++) if ($i != "") print $i }
            $1 ~ /^(ucast|ucast6|mcast|mcast6)$/ && $2 != "" { print $2 }' | sort -u
end

function __hb_beat_addrs
    command -q ip; or return
    ip -4 -o addr show 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4 }'
end

# The words after cl-status; fails when there is no cl-status.
function __hb_beat_cl_args
    set -l tokens (commandline -opc)
    set -l idx (contains -i -- cl-status $tokens); or return 1
    set -l n (count $tokens)
    if test $idx -lt $n
        printf '%s\n' $tokens[(math $idx + 1)..$n]
    end
    return 0
end

function __hb_beat_cl_needs_sub
    set -l args (__hb_beat_cl_args); or return 1
    test (count $args) -eq 0
end

# __hb_beat_cl_sub_is SUB...: the cl-status sub-command is one of these.
function __hb_beat_cl_sub_is
    set -l args (__hb_beat_cl_args); or return 1
    test (count $args) -ge 1; and contains -- $args[1] $argv
end

# __hb_beat_cl_pos N SUB...: the sub-command is one of SUB and N
# parameters follow it already.
function __hb_beat_cl_pos
    set -l args (__hb_beat_cl_args); or return 1
    test (count $args) -ge 1; or return 1
    contains -- $args[1] $argv[2..-1]; or return 1
    set -l npos 0
    set -l skip 0
    for a in $args[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $a
            case -p
                test $args[1] = hbparameter; and set skip 1
            case '-*'
            case '*'
                set npos (math $npos + 1)
        end
    end
    test $npos -eq $argv[1]
end

set -l commands run status nodes links cl-status send recv watch check version
set -l params keepalive deadtime warntime initdead deadping udpport bcast udp ucast ucast6 mcast mcast6 serial baud bindaddr ping ping6 ping_group hbaping autojoin auto_failback crm pacemaker logfile debugfile logfacility debug use_logd uuidfrom hbgenmethod msgfmt compression compression_threshold traditional_compression realtime rtprio max_rexmit_delay hopfudge cluster log_badpack conn_logd_time coredumps coreroot syslogmsgfmt use_apphbd memreserve crm_daemon_dir crmd_spawns_pengine quorum_server watchdog record_config_changes record_pengine_inputs enable_config_writes env respawn failfast stonith_host hbversion

complete -c hb-beat -f

# Commands.
set -l nocmd "not __fish_seen_subcommand_from $commands"
complete -c hb-beat -n $nocmd -a run -d 'Run the heartbeat daemon in the foreground'
complete -c hb-beat -n $nocmd -a status -d "Show this node's hb-beat status"
complete -c hb-beat -n $nocmd -a nodes -d 'List the cluster nodes with their status and links'
complete -c hb-beat -n $nocmd -a links -d "List this node's heartbeat links"
complete -c hb-beat -n $nocmd -a cl-status -d 'Answer cl_status sub-commands'
complete -c hb-beat -n $nocmd -a send -d 'Send a cluster message to one node or all'
complete -c hb-beat -n $nocmd -a recv -d 'Print cluster messages as they arrive'
complete -c hb-beat -n $nocmd -a watch -d 'Print node and link status changes'
complete -c hb-beat -n $nocmd -a check -d 'Check ha.cf and authkeys without starting'
complete -c hb-beat -n $nocmd -a version -d 'Print the version'

# Global options (not after cl-status: its arguments go to it as they are).
set -l global "not __fish_seen_subcommand_from cl-status"
complete -c hb-beat -n $global -l confdir -x -a '(__fish_complete_directories (commandline -ct))' -d 'Configuration directory (ha.cf, authkeys)'
complete -c hb-beat -n $global -l statedir -x -a '(__fish_complete_directories (commandline -ct))' -d 'State directory (hb_uuid, hb_generation)'
complete -c hb-beat -n $global -l rundir -x -a '(__fish_complete_directories (commandline -ct))' -d 'Run directory holding beat.sock'
complete -c hb-beat -n $global -l node -x -a '(__hb_beat_nodes)' -d "This node's name"
complete -c hb-beat -n $global -s h -l help -d 'Show help'

# Command options.
complete -c hb-beat -n '__fish_seen_subcommand_from run' -l bind -x -a '(__hb_beat_addrs)' -d 'Local IPv4 address to bind the links to'
complete -c hb-beat -n '__fish_seen_subcommand_from run' -s d -l debug -d 'Log debug messages'
complete -c hb-beat -n '__fish_seen_subcommand_from status nodes links watch' -l output-as -x -a 'text json xml' -d 'Output format'
complete -c hb-beat -n '__fish_seen_subcommand_from send' -l to -x -a '(__hb_beat_nodes)' -d 'Send to this node only'
complete -c hb-beat -n '__fish_seen_subcommand_from recv' -l type -x -d 'Only messages of this type'
complete -c hb-beat -n '__fish_seen_subcommand_from recv' -s n -l count -x -d 'Exit after this many messages'

# cl-status.
complete -c hb-beat -n __hb_beat_cl_needs_sub -a hbstatus -d 'Whether hb-beat is running here'
complete -c hb-beat -n __hb_beat_cl_needs_sub -a listnodes -d 'The cluster nodes'
complete -c hb-beat -n __hb_beat_cl_needs_sub -a nodestatus -d "A node's status"
complete -c hb-beat -n __hb_beat_cl_needs_sub -a nodetype -d "A node's type"
complete -c hb-beat -n __hb_beat_cl_needs_sub -a nodeweight -d "A node's weight (always 100)"
complete -c hb-beat -n __hb_beat_cl_needs_sub -a nodesite -d "A node's site (always empty)"
complete -c hb-beat -n __hb_beat_cl_needs_sub -a listhblinks -d 'The heartbeat links to a node'
complete -c hb-beat -n __hb_beat_cl_needs_sub -a hblinkstatus -d "A link's status"
complete -c hb-beat -n __hb_beat_cl_needs_sub -a hbparameter -d 'An ha.cf parameter'
complete -c hb-beat -n __hb_beat_cl_needs_sub -a rscstatus -d 'Resources are not managed by hb-beat'
complete -c hb-beat -n __hb_beat_cl_needs_sub -a help -d 'List the sub-commands'
complete -c hb-beat -n '__hb_beat_cl_sub_is hbstatus listnodes nodestatus nodetype listhblinks hblinkstatus hbparameter' -s m -d 'Print a sentence'
complete -c hb-beat -n '__hb_beat_cl_sub_is hbstatus listhblinks' -s v -d Verbose
complete -c hb-beat -n '__hb_beat_cl_sub_is listnodes' -s n -d 'Normal nodes only'
complete -c hb-beat -n '__hb_beat_cl_sub_is listnodes' -s p -d 'Ping nodes only'
complete -c hb-beat -n '__hb_beat_cl_sub_is hbparameter' -s p -x -a "$params" -d 'Parameter name'
complete -c hb-beat -n '__hb_beat_cl_pos 0 nodestatus nodetype nodeweight nodesite listhblinks hblinkstatus' -a '(__hb_beat_nodes)' -d Node
complete -c hb-beat -n '__hb_beat_cl_pos 1 hblinkstatus' -a '(__hb_beat_links)' -d Link
