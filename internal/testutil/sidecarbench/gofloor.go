package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
)

// goFloorArg makes sidecarbench, re-executed with it and a path, the
// "Go floor" follower: the least a Go program does to follow a log. It
// watches the log's directory with inotify through the runtime's poller
// (as fsnotify reads it), reads the new bytes and counts their lines, and
// reopens the log when a file is created or moved in under its name. It
// matches nothing and writes nothing. tail -F is the floor of any
// follower; this is the floor of one written in Go, whose runtime (its
// scheduler threads, sysmon, the poller) takes its share of every
// wake-up whatever the program does. It prints the lines it counted when
// it is stopped.
const goFloorArg = "-gofloor"

func goFloor(path string) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		fatalf("gofloor: inotify: %v", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, filepath.Dir(path), syscall.IN_MODIFY|syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		fatalf("gofloor: watch: %v", err)
	}
	in := os.NewFile(uintptr(fd), "inotify") // non-blocking: read through the poller
	f, err := os.Open(path)
	if err != nil {
		fatalf("gofloor: %v", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		fatalf("gofloor: %v", err)
	}
	var lines atomic.Int64
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		fmt.Println(lines.Load())
		os.Exit(0)
	}()
	base := filepath.Base(path)
	ev := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	drain := func() {
		for {
			n, _ := f.Read(buf)
			if n == 0 {
				return
			}
			for _, b := range buf[:n] {
				if b == '\n' {
					lines.Add(1)
				}
			}
		}
	}
	for {
		n, err := in.Read(ev)
		if err != nil {
			fatalf("gofloor: read inotify: %v", err)
		}
		reopen := false
		// struct inotify_event: wd, mask, cookie, len, then len bytes of
		// NUL-padded name (inotify(7)).
		for i := 0; i+syscall.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(ev[i+4:])
			l := int(binary.NativeEndian.Uint32(ev[i+12:]))
			name := ev[i+syscall.SizeofInotifyEvent : i+syscall.SizeofInotifyEvent+l]
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			if mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0 && string(name) == base {
				reopen = true
			}
			i += syscall.SizeofInotifyEvent + l
		}
		drain()
		if reopen {
			nf, err := os.Open(path)
			if err != nil {
				continue
			}
			f.Close()
			f = nf
			drain()
		}
	}
}
