// Package private keeps the data directory and the admin token to the
// service and the machine's administrators. On Unix the modes the files
// are created with (0750, 0600) do it; on Windows, where os.WriteFile's
// mode sets no ACL and %ProgramData% lets every user read, Restrict sets an
// explicit, protected DACL (no inherited entries): SYSTEM and
// Administrators, plus the user running storebox by hand when that is not
// SYSTEM, full control; nobody else.
package private
