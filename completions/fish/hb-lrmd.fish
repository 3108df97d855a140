# fish completion for hb-lrmd(8). Agent names complete from the agents
# installed here (hb-lrmd agents --local).

function __hb_lrmd_agents
    hb-lrmd agents --local 2>/dev/null
end

function __hb_lrmd_resources
    hb-lrmd status --output-as json 2>/dev/null | string replace -rf '^    "id": "(.*)",$' '$1'
end

# the number of arguments after the subcommand (options not counted)
function __hb_lrmd_npos
    set -l words (commandline -opc)
    set -l n 0
    set -l seen 0
    for w in $words[2..-1]
        switch $w
            case '-*'
            case '*'
                if test $seen -eq 0
                    set seen 1
                else
                    set n (math $n + 1)
                end
        end
    end
    echo $n
end

function __hb_lrmd_pos -a cmds n
    __fish_seen_subcommand_from (string split ' ' $cmds); and test (__hb_lrmd_npos) -eq $n
end

set -l cmds run exec check status agents metadata classes providers register unregister op cancel watch
complete -c hb-lrmd -f
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a run -d 'Run the daemon in the foreground'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a exec -d 'Run one agent action in the foreground'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a check -d 'Check an agent like ocf-tester (starts and stops it)'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a status -d 'Registered resources and their history'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a agents -d 'List resource agents'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a metadata -d "Print an agent's meta-data"
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a classes -d 'List the agent classes'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a providers -d 'List the OCF providers'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a register -d 'Register a resource'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a unregister -d 'Unregister a resource'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a op -d 'Run an operation through the daemon'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a cancel -d 'Cancel a recurring operation'
complete -c hb-lrmd -n "not __fish_seen_subcommand_from $cmds" -a watch -d 'Print results as they come'

complete -c hb-lrmd -l confdir -r -a '(__fish_complete_directories)' -d 'Configuration directory'
complete -c hb-lrmd -l statedir -r -a '(__fish_complete_directories)' -d 'State directory'
complete -c hb-lrmd -l rundir -r -a '(__fish_complete_directories)' -d 'Directory of the sockets'
complete -c hb-lrmd -l node -r -d "This node's name"

complete -c hb-lrmd -n '__hb_lrmd_pos "exec check metadata" 0' -a '(__hb_lrmd_agents)' -d agent
complete -c hb-lrmd -n '__hb_lrmd_pos register 1' -a '(__hb_lrmd_agents)' -d agent
complete -c hb-lrmd -n '__hb_lrmd_pos exec 1' -a 'start stop monitor promote demote notify reload migrate_to migrate_from meta-data validate-all status on off reboot list metadata'
complete -c hb-lrmd -n '__hb_lrmd_pos "op cancel unregister" 0' -a '(__hb_lrmd_resources)' -d resource
complete -c hb-lrmd -n '__hb_lrmd_pos "op cancel" 1' -a 'start stop monitor promote demote notify reload migrate_to migrate_from validate-all'
complete -c hb-lrmd -n '__hb_lrmd_pos agents 0' -a 'ocf lsb heartbeat systemd service stonith'

complete -c hb-lrmd -n '__fish_seen_subcommand_from exec check op register' -s p -l param -r -d 'NAME=VALUE'
complete -c hb-lrmd -n '__fish_seen_subcommand_from exec op' -l meta -r -d 'Meta attribute NAME=VALUE'
complete -c hb-lrmd -n '__fish_seen_subcommand_from exec check op' -l timeout -r -d 'Timeout (20s)'
complete -c hb-lrmd -n '__fish_seen_subcommand_from op cancel' -l interval -r -d 'Recurring interval'
complete -c hb-lrmd -n '__fish_seen_subcommand_from op' -l async -d 'Return at once'
complete -c hb-lrmd -n '__fish_seen_subcommand_from exec check' -l resource -r -d 'Resource id'
complete -c hb-lrmd -n '__fish_seen_subcommand_from agents metadata' -l local -d 'Without the daemon'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run' -l max-parallel -r -d 'Operations at once'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run' -l debug -d 'Log debug messages'
complete -c hb-lrmd -n '__fish_seen_subcommand_from watch' -s n -l count -r -d 'Stop after this many events'
complete -c hb-lrmd -n '__fish_seen_subcommand_from exec check status agents classes providers op watch' -l output-as -r -a 'text json'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run exec check agents metadata' -l ocf-root -r -a '(__fish_complete_directories)'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run exec check agents metadata' -l lsb-dir -r -a '(__fish_complete_directories)'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run exec check agents metadata' -l fence-dir -r -a '(__fish_complete_directories)'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run exec check agents metadata' -l stonith-plugins -r -a '(__fish_complete_directories)'
complete -c hb-lrmd -n '__fish_seen_subcommand_from run exec check' -l kill-grace -r -d 'Time between TERM and KILL'
