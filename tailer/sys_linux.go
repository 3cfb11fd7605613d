package tailer

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// birthTime returns the file's birth time in nanoseconds, or 0 where the
// filesystem does not record one.
func birthTime(f *os.File) int64 {
	var sx unix.Statx_t
	var err error
	rc, cerr := f.SyscallConn()
	if cerr != nil {
		return 0
	}
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &sx)
	}); cerr != nil || err != nil || sx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
}

// writerGone reports whether no process has the file open for writing,
// asked of the kernel by taking and at once releasing a read lease, which
// fails with EAGAIN while any writer holds the file. known is false where
// the kernel cannot tell: leases need the caller to own the file or hold
// CAP_LEASE, and are local, so a writer on another NFS client is never
// seen (--poll does not ask).
//
// This is how a rotated file is let go when its writer has reopened its
// log (Mosquitto on SIGHUP), rather than after a guessed delay.
func writerGone(f *os.File) (gone, known bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, false
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		if _, lerr = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK); lerr == nil {
			_, _ = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
		}
	}); err != nil {
		return false, false
	}
	switch {
	case lerr == nil:
		return true, true
	case errors.Is(lerr, unix.EAGAIN):
		return false, true
	default:
		return false, false
	}
}

// currentDir returns the directory the open file is in now, as the
// kernel names it (/proc/self/fd), or "" when it cannot tell or the file
// was deleted.
func currentDir(f *os.File) string {
	rc, err := f.SyscallConn()
	if err != nil {
		return ""
	}
	var p string
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		p, lerr = os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
	}); err != nil || lerr != nil || !filepath.IsAbs(p) || strings.HasSuffix(p, " (deleted)") {
		return ""
	}
	return filepath.Dir(p)
}

// owner names the user and group owning the file fi describes, by name
// where the system knows them, else by number.
func owner(fi os.FileInfo) (usr, group string, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", "", false
	}
	usr, group = strconv.FormatUint(uint64(st.Uid), 10), strconv.FormatUint(uint64(st.Gid), 10)
	if u, err := user.LookupId(usr); err == nil {
		usr = u.Username
	}
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	return usr, group, true
}
