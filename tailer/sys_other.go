//go:build !linux

package tailer

import "os"

func birthTime(*os.File) int64 { return 0 }

func writerGone(*os.File) (gone, known bool) { return false, false }

func currentDir(*os.File) string { return "" }

func owner(os.FileInfo) (usr, group string, ok bool) { return "", "", false }
