package throttle

import "net/netip"

// ClientKey names the client a request came from for budgets and throttles:
// the IPv4 address, or the /64 of an IPv6 address, since one subscriber
// usually holds a whole /64 and could otherwise rotate through it. An
// IPv4-mapped IPv6 address counts as its IPv4 address; text that is no
// address is kept as it is.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
