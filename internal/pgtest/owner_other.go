//go:build !linux

package pgtest

import (
	"errors"
	"os"
	"syscall"
)

// owner is the OS user a cluster runs as. Outside Linux the cluster always
// runs as this process's user; running the tests as root is unsupported.
type owner struct{}

func serverOwner() (*owner, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("running PostgreSQL tests as root is supported on Linux only")
	}
	return nil, nil
}

func (o *owner) chown(string) error { return nil }

func (o *owner) sysProcAttr(bool) *syscall.SysProcAttr { return nil }

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
