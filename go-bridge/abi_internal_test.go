package junction

import (
	"errors"
	"strings"
	"testing"
)

func TestABIVersionCheck(t *testing.T) {
	if err := checkABI(1<<16|0, 1<<16|0); err != nil {
		t.Fatalf("same version refused: %v", err)
	}
	if err := checkABI(1<<16|0, 1<<16|3); err != nil {
		t.Fatalf("newer library minor refused: %v", err)
	}
	for _, library := range []uint32{2 << 16, 0<<16 | 9} {
		err := checkABI(1<<16|0, library)
		if !errors.Is(err, ErrFailedPrecondition) || !strings.Contains(err.Error(), "ABI 1.0") {
			t.Errorf("library %#x: %v", library, err)
		}
	}
	if err := checkABI(1<<16|2, 1<<16|1); !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("older library minor accepted: %v", err)
	}
	if abiMismatch != nil {
		t.Fatalf("this build's own library refused: %v", abiMismatch)
	}
}
