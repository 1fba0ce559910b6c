package audit

import "testing"

// Issue 21 item 3: the bound drops only the listed routine types; every
// account, factor, recovery and admin event, and any type nobody listed,
// is kept.
func TestOnlyListedTypesAreRoutine(t *testing.T) {
	for _, typ := range []Type{LoginSucceeded, LoginFailed, Reauthenticated, MFAFailed, SessionRevoked} {
		if !typ.Routine() {
			t.Errorf("%s is not routine", typ)
		}
	}
	for _, typ := range []Type{
		PasswordChanged, EmailChanged, AccountDeleted, EmailVerified, PasswordReset, RefreshReuseDetected, LogoutAll,
		AdminUserCreated, AdminRolesChanged, AdminNameChanged, AdminUserDisabled, AdminUserEnabled,
		AdminEmailVerifiedSet, AdminSessionsRevoked, AdminSessionRevoked, AdminUserDeleted, AdminAppMetadataChanged,
		MFAEnabled, MFADisabled, RecoveryCodeUsed, RecoveryCodesRegenerated, PasskeyAdded, PasskeyRemoved,
		EventsSuppressed, Type("some_type_added_later"),
	} {
		if typ.Routine() {
			t.Errorf("%s may be dropped", typ)
		}
	}
	if got := len(RoutineTypes()); got != 5 {
		t.Errorf("RoutineTypes has %d entries", got)
	}
}
