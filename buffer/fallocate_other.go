//go:build !linux

package buffer

import (
	"errors"
	"os"
)

func fallocate(*os.File, int64, int64) error {
	return errors.ErrUnsupported
}
