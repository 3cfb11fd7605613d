//go:build !linux

package tailer

import "os"

func birthTime(*os.File) int64 { return 0 }

func writerGone(*os.File) (gone, known bool) { return false, false }

func currentDir(*os.File) string { return "" }

func owner(os.FileInfo) (usr, group string, ok bool) { return "", "", false }

// preadOnce reads into b at off (see sys_linux.go).
func preadOnce(f *os.File, b []byte, off int64) (int, error) { return f.ReadAt(b, off) }
