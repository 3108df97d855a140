package beat

import (
	"context"
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// pingLoop sends an ICMP echo to every ping node address each keepalive
// and reports replies to the core. It uses an unprivileged ping socket
// where net.ipv4.ping_group_range allows, else a raw socket (root).
func (d *Daemon) pingLoop(ctx context.Context) {
	conn, err := icmp.ListenPacket("udp4", "0.0.0.0")
	privileged := false
	if err != nil {
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		privileged = true
	}
	if err != nil {
		d.log.Error("cannot open an ICMP socket: ping nodes will be dead", "subsystem", "ping", "err", err,
			"hint", "run as root, or allow unprivileged ping: sysctl net.ipv4.ping_group_range='0 2147483647'")
		return
	}
	defer conn.Close()
	context.AfterFunc(ctx, func() { conn.Close() })
	owner := map[string]string{} // address -> ping node name
	for _, p := range d.opts.Conf.PingNodes {
		for _, a := range p.Addrs {
			ips, err := net.LookupIP(a)
			if err != nil || len(ips) == 0 {
				d.log.Warn("cannot resolve ping address", "subsystem", "ping", "address", a, "err", err)
				continue
			}
			owner[ips[0].String()] = p.Name
		}
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || msg.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			var ip string
			switch a := from.(type) {
			case *net.UDPAddr:
				ip = a.IP.String()
			case *net.IPAddr:
				ip = a.IP.String()
			}
			if name, ok := owner[ip]; ok {
				now := time.Now()
				_ = d.exec(ctx, func() { d.do(d.core.PingHeard(now, name)) })
			}
		}
	}()
	t := time.NewTicker(d.opts.Conf.Keepalive)
	defer t.Stop()
	seq := 0
	for {
		seq++
		for addr := range owner {
			m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: seq & 0xffff, Data: []byte("hb-beat")}}
			b, err := m.Marshal(nil)
			if err != nil {
				continue
			}
			var dst net.Addr = &net.UDPAddr{IP: net.ParseIP(addr)}
			if privileged {
				dst = &net.IPAddr{IP: net.ParseIP(addr)}
			}
			_, _ = conn.WriteTo(b, dst)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
