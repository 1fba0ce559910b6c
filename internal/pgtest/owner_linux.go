package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// owner is the OS user a cluster runs as when this process is root:
// initdb and postgres refuse to run as root.
type owner struct {
	uid, gid uint32
}

// serverOwner returns the postgres system user when running as root, and
// nil (this process's user) otherwise.
func serverOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a %q system user to run the server as: %w", "postgres", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &owner{uid: uint32(uid), gid: uint32(gid)}, nil
}

func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Chown(path, int(o.uid), int(o.gid))
}

// sysProcAttr runs the child as the owner, in its own process group (so a
// terminal's Ctrl-C reaches only the test binary), and, for the server,
// with a parent-death signal: SIGQUIT is PostgreSQL's immediate shutdown, so
// a killed test binary does not leave a server running.
func (o *owner) sysProcAttr(server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if o != nil {
		a.Credential = &syscall.Credential{Uid: o.uid, Gid: o.gid, NoSetGroups: true}
	}
	if server {
		a.Pdeathsig = syscall.SIGQUIT
	}
	return a
}

// processAlive reports whether a process with this PID exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
