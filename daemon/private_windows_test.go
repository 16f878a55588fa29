package daemon

import (
	"log/slog"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/storebox/storebox/daemon/webauth"
	"github.com/storebox/storebox/internal/private"
)

// TestDataDirAndTokenArePrivate: on Windows the daemon gives its data
// directory and the admin token an explicit, protected ACL (SYSTEM,
// Administrators, the user running it), read back with
// GetNamedSecurityInfo. Before, os.WriteFile's 0600 set no ACL and the
// token inherited %ProgramData%'s (Users may read). Wine keeps no file
// DACLs, so there the test can only say so (internal/private's
// TestDescriptor checks what is set).
func TestDataDirAndTokenArePrivate(t *testing.T) {
	probe := t.TempDir()
	if private.Restrict(probe) == nil && private.Check(probe) != nil {
		sd, _ := windows.GetNamedSecurityInfo(probe, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
		t.Skipf("this platform keeps no file DACLs (Wine; read back %s)", sd)
	}
	dir := filepath.Join(t.TempDir(), "data")
	runDaemon(t, testConfig(t, dir, ""), slog.New(slog.DiscardHandler))
	for _, p := range []string{dir, filepath.Join(dir, webauth.AdminTokenFile)} {
		if err := private.Check(p); err != nil {
			t.Error(err)
		}
	}
}
