package auth

import (
	"reflect"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := []SigningKey{
		{ID: "c", ActivatesAt: t0.Add(2 * time.Hour)},
		{ID: "a", ActivatesAt: t0},
		{ID: "b", ActivatesAt: t0.Add(time.Hour)},
	}
	ret := 15 * time.Minute
	type want struct {
		states    []KeyState
		published []bool
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want want
	}{
		{"before all (clock set back): earliest signs", t0.Add(-time.Minute), want{[]KeyState{KeyActive, KeyNext, KeyNext}, []bool{true, true, true}}},
		{"a active, b and c published ahead", t0.Add(time.Minute), want{[]KeyState{KeyActive, KeyNext, KeyNext}, []bool{true, true, true}}},
		{"b active, a retired and still published", t0.Add(time.Hour + 14*time.Minute), want{[]KeyState{KeyRetired, KeyActive, KeyNext}, []bool{true, true, true}}},
		{"a's last token expired: unpublished", t0.Add(time.Hour + 15*time.Minute), want{[]KeyState{KeyRetired, KeyActive, KeyNext}, []bool{false, true, true}}},
		{"c active", t0.Add(3 * time.Hour), want{[]KeyState{KeyRetired, KeyRetired, KeyActive}, []bool{false, false, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Schedule(keys, tc.now, ret)
			var got want
			for i, st := range s {
				if st.Key.ID != string(rune('a'+i)) {
					t.Fatalf("order: %v", s)
				}
				got.states = append(got.states, st.State)
				got.published = append(got.published, st.Published)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if !s[0].RetiresAt.Equal(t0.Add(time.Hour)) || !s[2].RetiresAt.IsZero() {
				t.Fatalf("retiresAt: %v %v", s[0].RetiresAt, s[2].RetiresAt)
			}
		})
	}
}

func TestRotationDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := RotationPolicy{Interval: 24 * time.Hour, PublishAhead: time.Hour}
	one := []SigningKey{{ID: "a", ActivatesAt: t0}}
	if _, due := p.Due(Schedule(one, t0.Add(22*time.Hour), 0), t0.Add(22*time.Hour)); due {
		t.Fatal("due two hours early")
	}
	at, due := p.Due(Schedule(one, t0.Add(23*time.Hour), 0), t0.Add(23*time.Hour))
	if !due || !at.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("at the publish-ahead point: %v %v", at, due)
	}
	// Long overdue (service was down): the new key still waits PublishAhead.
	late := t0.Add(100 * time.Hour)
	at, due = p.Due(Schedule(one, late, 0), late)
	if !due || !at.Equal(late.Add(time.Hour)) {
		t.Fatalf("overdue: %v %v", at, due)
	}
	// A next key waiting: not due again.
	two := append(one, SigningKey{ID: "b", ActivatesAt: t0.Add(24 * time.Hour)})
	if _, due := p.Due(Schedule(two, t0.Add(23*time.Hour+30*time.Minute), 0), t0.Add(23*time.Hour+30*time.Minute)); due {
		t.Fatal("due with a next key waiting")
	}
	if _, due := (RotationPolicy{}).Due(Schedule(one, late, 0), late); due {
		t.Fatal("interval 0 must turn rotation off")
	}
}

func TestPrunable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := []SigningKey{{ID: "a", ActivatesAt: t0}, {ID: "b", ActivatesAt: t0.Add(time.Hour)}}
	now := t0.Add(time.Hour + 20*time.Minute)
	s := Schedule(keys, now, 15*time.Minute)
	if got := Prunable(s, now, 10*time.Minute); len(got) != 0 {
		t.Fatalf("pruned inside the margin: %v", got)
	}
	if got := Prunable(s, now, 5*time.Minute); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("got %v", got)
	}
}
