package reader

import (
	"errors"
	"strings"
	"testing"
)

// A line over MaxReadLine is reported with its number and skipped; the
// lines after it are still read (it used to abort the file).
func TestScanReadsLongLine(t *testing.T) {
	good := `{"time":"2026-11-20T08:00:00Z","reader":"r1","antenna":1,"epc":"3034DF296FDCCF04CFA7C017","rssi":-50}`
	in := good + "\n" + `{"epc":"` + strings.Repeat("A", MaxReadLine+10) + `"}` + "\r\n\n" + good + "\n" + good // no final newline
	var got []string
	err := ScanReads(strings.NewReader(in), func(line int, rd Read, err error) error {
		switch {
		case errors.Is(err, ErrBadRead) && strings.Contains(err.Error(), "longer than"):
			got = append(got, "long@"+string(rune('0'+line)))
		case err != nil:
			t.Errorf("line %d: %v", line, err)
		default:
			got = append(got, rd.EPC[:4]+"@"+string(rune('0'+line)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "3034@1 long@2 3034@4 3034@5"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
}
