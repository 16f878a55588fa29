package private

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Restrict replaces path's DACL with a protected one: full control for
// SYSTEM, Administrators and (when it is not SYSTEM) the user running
// storebox; a directory passes the entries on to what is created in it.
func Restrict(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	sd, err := descriptor(fi.IsDir())
	if err != nil {
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s: SetNamedSecurityInfo: %w", path, err)
	}
	return nil
}

// descriptor is the protected DACL Restrict sets: SYSTEM, Administrators
// and (unless it is SYSTEM) the current user, full control; for a
// directory, inherited by what is created in it.
func descriptor(dir bool) (*windows.SECURITY_DESCRIPTOR, error) {
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	sddl := "D:P(A;" + inherit + ";FA;;;SY)(A;" + inherit + ";FA;;;BA)"
	if u, err := currentUser(); err == nil && !u.IsWellKnown(windows.WinLocalSystemSid) {
		sddl += "(A;" + inherit + ";FA;;;" + u.String() + ")"
	}
	return windows.SecurityDescriptorFromString(sddl)
}

func currentUser() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid, nil
}

// Check reads path's DACL back and says what is wrong with it: none (every
// user has access), not protected (it inherits the parent's entries, and
// %ProgramData%'s let Users read), or an entry allowing anyone besides
// SYSTEM, Administrators and the current user.
func Check(path string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read the ACL of %s: %w", path, err)
	}
	if err := checkDescriptor(sd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func checkDescriptor(sd *windows.SECURITY_DESCRIPTOR) error {
	control, _, err := sd.Control()
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return errors.New("no DACL: every user has access")
	}
	me, err := currentUser()
	if err != nil {
		return fmt.Errorf("current user: %w", err)
	}
	var errs []error
	if control&windows.SE_DACL_PROTECTED == 0 {
		errs = append(errs, errors.New("it inherits its parent's ACL entries"))
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if !sid.IsWellKnown(windows.WinLocalSystemSid) && !sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) && !sid.Equals(me) {
			errs = append(errs, fmt.Errorf("it allows %s", sid))
		}
	}
	return errors.Join(errs...)
}
