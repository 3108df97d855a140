package beat

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/linux-ha-go/ha/lib/hacf"
)

// link is one receive socket and the media that send on the same
// interface. Every medium line of ha.cf sends; media that share an
// interface, bind address and port share one receive socket and one link
// name (the interface, as heartbeat names links).
type link struct {
	name   string
	recvFD int
	sends  []sender
	kinds  []string
}

// sender is one destination of one medium, with its own send socket.
type sender struct {
	fd   int
	to   unix.Sockaddr
	desc string
}

func (l *link) close() {
	if l.recvFD > 0 {
		unix.Close(l.recvFD)
	}
	for _, s := range l.sends {
		unix.Close(s.fd)
	}
}

func udpSocket() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
}

func sockaddr(ip net.IP, port int) (*unix.SockaddrInet4, error) {
	ip4 := ip.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("%s is not an IPv4 address (IPv6 media are accepted in ha.cf but not served yet)", ip)
	}
	sa := &unix.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip4)
	return sa, nil
}

// bindDevice binds fd to an interface as heartbeat does. Without the
// privilege (or with an explicit bind address) it is skipped: the bind
// address then selects the interface.
func bindDevice(fd int, dev string, strict bool) error {
	if dev == "" {
		return nil
	}
	err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev)
	if err != nil && (strict || !errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("error setting option SO_BINDTODEVICE on %s: %w", dev, err)
	}
	return nil
}

func broadcastOf(dev string) (net.IP, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil {
			continue
		}
		ip := ipn.IP.To4()
		b := make(net.IP, 4)
		for i := range b {
			b[i] = ip[i] | ^ipn.Mask[i]
		}
		if ipn.Mask[3] == 0xff { // a /32 (or lo) has no broadcast
			continue
		}
		return b, nil
	}
	return nil, fmt.Errorf("interface %s has no IPv4 address with a broadcast address", dev)
}

// openLinks opens a receive socket per (interface, bind address, port) and
// a send socket per medium destination. bind is the local address to bind
// to ("" for any). Errors name the ha.cf line.
func openLinks(conf *hacf.Config, bind string) (links []*link, err error) {
	defer func() {
		if err != nil {
			for _, l := range links {
				l.close()
			}
			links = nil
		}
	}()
	byKey := map[string]*link{}
	var bindIP net.IP
	if bind != "" {
		if bindIP = net.ParseIP(bind); bindIP == nil || bindIP.To4() == nil {
			return nil, fmt.Errorf("bind address %q is not an IPv4 address", bind)
		}
	}
	for _, m := range conf.Media {
		where := fmt.Sprintf("%s:%d: %s %s", conf.File, m.Line, m.Kind, m.Dev)
		if m.Kind != "bcast" && m.Kind != "ucast" && m.Kind != "mcast" {
			return nil, fmt.Errorf("%s: medium %s is accepted in ha.cf but not served by hb-beat", where, m.Kind)
		}
		if bindIP == nil {
			if _, err := net.InterfaceByName(m.Dev); err != nil {
				return nil, fmt.Errorf("%s: no such interface %q", where, m.Dev)
			}
		}
		recvIP := net.IPv4zero
		if bindIP != nil {
			recvIP = bindIP
		}
		if m.Kind == "mcast" && bindIP == nil {
			recvIP = net.ParseIP(m.Group)
		}
		key := fmt.Sprintf("%s|%s|%d", m.Dev, recvIP, m.Port)
		l := byKey[key]
		if l == nil {
			l = &link{name: m.Dev}
			fd, err := udpSocket()
			if err != nil {
				return links, fmt.Errorf("%s: %w", where, err)
			}
			l.recvFD = fd
			links = append(links, l)
			byKey[key] = l
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
			if bindIP == nil {
				if err := bindDevice(fd, m.Dev, false); err != nil {
					return links, fmt.Errorf("%s: %w", where, err)
				}
			}
			sa, err := sockaddr(recvIP, m.Port)
			if err != nil {
				return links, fmt.Errorf("%s: %w", where, err)
			}
			if err := unix.Bind(fd, sa); err != nil {
				hint := ""
				if errors.Is(err, unix.EACCES) && m.Port < 1024 {
					hint = " (ports below 1024 need root; set udpport to a higher port)"
				}
				if errors.Is(err, unix.EADDRNOTAVAIL) {
					hint = " (the bind address is not on this machine)"
				}
				return links, fmt.Errorf("%s: cannot bind %s:%d: %w%s", where, recvIP, m.Port, err, hint)
			}
			if m.Kind == "mcast" {
				mreq := &unix.IPMreqn{}
				copy(mreq.Multiaddr[:], net.ParseIP(m.Group).To4())
				if ifi, err := net.InterfaceByName(m.Dev); err == nil {
					mreq.Ifindex = int32(ifi.Index)
				}
				if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
					return links, fmt.Errorf("%s: cannot join group %s: %w", where, m.Group, err)
				}
			}
		}
		if !contains(l.kinds, m.Kind) {
			l.kinds = append(l.kinds, m.Kind)
		}
		var dst net.IP
		switch m.Kind {
		case "ucast":
			dst = net.ParseIP(m.Peer)
			if dst == nil {
				ips, err := net.LookupIP(m.Peer)
				if err != nil || len(ips) == 0 {
					return links, fmt.Errorf("%s: cannot resolve %q", where, m.Peer)
				}
				dst = ips[0]
			}
		case "mcast":
			dst = net.ParseIP(m.Group)
		case "bcast":
			if bindIP != nil && bindIP.IsLoopback() {
				return links, fmt.Errorf("%s: bcast cannot be used with loopback bind address %s: use ucast", where, bindIP)
			}
			b, err := broadcastOf(m.Dev)
			if err != nil {
				return links, fmt.Errorf("%s: %w", where, err)
			}
			dst = b
		}
		fd, err := udpSocket()
		if err != nil {
			return links, fmt.Errorf("%s: %w", where, err)
		}
		s := sender{fd: fd, desc: fmt.Sprintf("%s %s %s:%d", m.Kind, m.Dev, dst, m.Port)}
		l.sends = append(l.sends, s)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, 0x10 /* IPTOS_LOWDELAY */)
		if m.Kind == "bcast" {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		}
		if m.Kind == "mcast" {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, m.TTL)
			loop := 0
			if m.Loop {
				loop = 1
			}
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, loop)
			if ifi, err := net.InterfaceByName(m.Dev); err == nil {
				_ = unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
			}
		}
		if bindIP != nil {
			sa, _ := sockaddr(bindIP, 0)
			if err := unix.Bind(fd, sa); err != nil {
				return links, fmt.Errorf("%s: cannot bind send socket to %s: %w", where, bindIP, err)
			}
		} else if err := bindDevice(fd, m.Dev, false); err != nil {
			return links, fmt.Errorf("%s: %w", where, err)
		}
		to, err := sockaddr(dst, m.Port)
		if err != nil {
			return links, fmt.Errorf("%s: %w", where, err)
		}
		l.sends[len(l.sends)-1].to = to
	}
	return links, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// describe lists a link's media for `hb-beat links`.
func (l *link) describe() string {
	var d []string
	for _, s := range l.sends {
		d = append(d, s.desc)
	}
	return strings.Join(d, ", ")
}
