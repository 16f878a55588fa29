package private

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// TestDescriptor: what Restrict sets is a protected DACL naming only
// SYSTEM, Administrators and this user, inherited by a directory's
// contents; %ProgramData%'s own (Users may read) does not pass the check.
func TestDescriptor(t *testing.T) {
	for _, dir := range []bool{true, false} {
		sd, err := descriptor(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkDescriptor(sd); err != nil {
			t.Errorf("dir=%v: %v (%s)", dir, err, sd)
		}
	}
	loose, err := windows.SecurityDescriptorFromString("D:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDescriptor(loose); err == nil {
		t.Error("an inheriting DACL that lets Users read passes the check")
	}
}

// TestRestrictReadsBack: a directory and the token file in it, restricted,
// read back with GetNamedSecurityInfo (Check). Wine keeps no file DACLs
// (it derives one from the Unix mode, and SetNamedSecurityInfo changes
// nothing); there the read-back cannot tell, and the test says so.
func TestRestrictReadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tok, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := sddl(t, dir)
	for _, p := range []string{dir, tok} {
		if err := Restrict(p); err != nil {
			t.Fatal(err)
		}
	}
	if sddl(t, dir) == before {
		t.Skipf("SetNamedSecurityInfo changed nothing here (Wine keeps no file DACLs: %s); TestDescriptor checks what is set", before)
	}
	for _, p := range []string{dir, tok} {
		if err := Check(p); err != nil {
			t.Error(err)
		}
	}
}

func sddl(t *testing.T, path string) string {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	return sd.String()
}
