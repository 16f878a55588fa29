package printersim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/storebox/storebox/drivers/printer"
)

func TestControl(t *testing.T) {
	s := New(nil)
	var out bytes.Buffer
	Control(strings.NewReader("paper out\n\ncover open\nfly away\ncut 12\n"), &out, s)
	if st := s.Status(); !st.PaperEnd || !st.CoverOpen {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(out.String(), "printer: paper_end") || !strings.Contains(out.String(), `unknown command "fly away"`) {
		t.Fatalf("said:\n%s", out.String())
	}
	for _, c := range []string{"paper in", "cover closed", "silent"} {
		if err := s.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Status(); st.State() != printer.StateOK {
		t.Fatalf("state %s", st.State())
	}
	if _, ok := s.answer(1); ok {
		t.Fatal("a silent printer answered")
	}
	if err := s.Apply("cut x"); err == nil {
		t.Fatal("cut x accepted")
	}
}
