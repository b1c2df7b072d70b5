package buffer

import (
	"os"
	"syscall"
)

func fallocate(f *os.File, off, n int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, off, n)
}
