package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
)

func TestAssuranceOf(t *testing.T) {
	for _, tc := range []struct {
		methods []string
		want    string
	}{
		{nil, auth.AAL1},
		{[]string{auth.MethodPassword}, auth.AAL1},
		{[]string{auth.MethodHardwareKey}, auth.AAL1},
		{[]string{auth.MethodPassword, auth.MethodOTP, auth.MethodMFA}, auth.AAL2},
		{[]string{auth.MethodHardwareKey, auth.MethodMFA}, auth.AAL2},
	} {
		if got := auth.AssuranceOf(tc.methods); got != tc.want {
			t.Errorf("AssuranceOf(%v) = %q, want %q", tc.methods, got, tc.want)
		}
	}
}

func TestCheckAAL2(t *testing.T) {
	now := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	p := auth.StepUpPolicy{MaxAge: 10 * time.Minute}
	fresh1 := auth.Claims{Fresh: true, AuthTime: now, AAL: auth.AAL1}
	fresh2 := auth.Claims{Fresh: true, AuthTime: now, AAL: auth.AAL2}
	stale2 := auth.Claims{Fresh: false, AuthTime: now, AAL: auth.AAL2}
	if err := p.CheckAAL2(fresh1, false, now); err != nil {
		t.Errorf("no factor yet, fresh aal1: %v", err)
	}
	err := p.CheckAAL2(fresh1, true, now)
	if !errors.Is(err, auth.ErrSecondFactorRequired) || !errors.Is(err, auth.ErrFreshAuthRequired) {
		t.Errorf("factor active, aal1: %v; want ErrSecondFactorRequired (an ErrFreshAuthRequired)", err)
	}
	if err := p.CheckAAL2(fresh2, true, now); err != nil {
		t.Errorf("factor active, fresh aal2: %v", err)
	}
	if err := p.CheckAAL2(stale2, true, now); !errors.Is(err, auth.ErrFreshAuthRequired) || errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Errorf("aal2 but not fresh: %v; want plain ErrFreshAuthRequired", err)
	}
}
