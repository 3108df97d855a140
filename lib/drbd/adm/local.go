package adm

import (
	"context"
	"fmt"
	"strings"

	"github.com/linux-ha-go/ha/lib/drbd/conf"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Commands answered from the configuration alone.
func defineLocal() {
	def(&Command{Name: "dump", Help: "Print the configuration, normalised.", ResNameRequired: true, AllByDefault: true, VerifyIPs: true, Dump: true,
		Local: func(r *runner, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
			return 0, r.cfg.DumpResource(r.o.Stdout, res, conf.DumpOptions{Verbose: r.o.Verbose})
		}})
	def(&Command{Name: "dump-xml", Help: "Print the configuration as XML.", ResNameRequired: true, AllByDefault: true, VerifyIPs: true, Dump: true,
		Local: func(r *runner, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
			return 0, r.cfg.DumpXMLResource(r.o.Stdout, res)
		}})
	shell := func(name, help string, f func(r *runner, res *conf.Resource, vol *conf.Volume) string) {
		def(&Command{Name: name, Help: help, ResNameRequired: true, IterateVolumes: true,
			Local: func(r *runner, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
				fmt.Fprintln(r.o.Stdout, f(r, res, vol))
				return 0, nil
			}})
	}
	shell("sh-dev", "Print the device of each volume.", func(r *runner, res *conf.Resource, v *conf.Volume) string { return v.DevicePath() })
	shell("sh-minor", "Print the minor of each volume.", func(r *runner, res *conf.Resource, v *conf.Volume) string { return fmt.Sprint(v.Minor) })
	shell("sh-ll-dev", "Print the backing disk of each volume.", func(r *runner, res *conf.Resource, v *conf.Volume) string { return v.Disk })
	shell("sh-md-dev", "Print the meta-data device of each volume.", func(r *runner, res *conf.Resource, v *conf.Volume) string { return v.MetaDevice() })
	shell("sh-md-idx", "Print the meta-data index of each volume.", func(r *runner, res *conf.Resource, v *conf.Volume) string { return v.MetaIndex })
	shell("sh-ip", "Print this node's address of the resource.", func(r *runner, res *conf.Resource, v *conf.Volume) string { return res.Me.Address })
	def(&Command{Name: "sh-resource", Help: "Print the resource name.", ResNameRequired: true,
		Local: func(r *runner, res *conf.Resource, vol *conf.Volume) (exitcode.Code, error) {
			fmt.Fprintln(r.o.Stdout, res.Name)
			return 0, nil
		}})
	def(&Command{Name: "sh-udev", Help: "Print udev variables of a volume.", ResNameRequired: true, VolIDRequired: true,
		Local: func(r *runner, res *conf.Resource, v *conf.Volume) (exitcode.Code, error) {
			w := r.o.Stdout
			if v.Implicit && !r.cfg.Global.UdevAlwaysUseVnr {
				fmt.Fprintf(w, "RESOURCE=%s\n", res.Name)
			} else {
				fmt.Fprintf(w, "RESOURCE=%s/%d\n", res.Name, v.VNR)
			}
			if strings.HasPrefix(v.DevicePath(), "/dev/drbd") {
				fmt.Fprintf(w, "DEVICE=%s\n", v.DevicePath()[5:])
			} else {
				fmt.Fprintf(w, "DEVICE=drbd%d\n", v.Minor)
			}
			fmt.Fprintf(w, "DISK=%s\n", strings.TrimPrefix(v.Disk, "/dev/"))
			return 0, nil
		}})
	def(&Command{Name: "sh-resources", Help: "Print the names of this node's resources.",
		Global: func(ctx context.Context, r *runner) error {
			var names []string
			for _, res := range r.cfg.Resources {
				if !res.Ignore && !res.Stacked {
					names = append(names, conf.Esc(res.Name))
				}
			}
			if len(names) > 0 {
				fmt.Fprintln(r.o.Stdout, strings.Join(names, " "))
			}
			return nil
		}})
	def(&Command{Name: "sh-mod-parms", Help: "Print the minor_count module parameter.",
		Global: func(ctx context.Context, r *runner) error {
			mc := r.cfg.Global.MinorCount
			if mc == 0 {
				n := 0
				for _, res := range r.cfg.Resources {
					if !res.Ignore && res.Me != nil {
						n += len(res.Me.Volumes)
					}
				}
				mc = min(max(n+3, 32), 255)
			}
			fmt.Fprintf(r.o.Stdout, "minor_count=%d\n", mc)
			return nil
		}})
	def(&Command{Name: "sh-nop", Help: "Parse the configuration and do nothing.",
		Global: func(ctx context.Context, r *runner) error { return nil }})
}
