package scale

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Manifest describes a seeded database to the load tool: who can log in,
// what to search for, and where the admin list's deep pages start.
type Manifest struct {
	Engine   string           `json:"engine"`
	Users    int              `json:"users"`
	Seed     uint64           `json:"seed"`
	SeededAt time.Time        `json:"seededAt"`
	Password string           `json:"password"`
	Admin    string           `json:"admin"`
	Rows     map[string]int64 `json:"rows"`
	Sessions SessionCounts    `json:"sessions"`
	// SeedSeconds is how long seeding took, hashing and ANALYZE included.
	SeedSeconds float64 `json:"seedSeconds"`
	// Sample are accounts that log in with the password alone, spread
	// over the whole list.
	Sample []SampleUser `json:"sample"`
	// Surnames are name search terms, each shared by about 1 % of the
	// accounts.
	Surnames []string `json:"surnames"`
	// Deep are cursors of the admin list (newest first, no query) spread
	// over its whole depth, each with the account its page starts with.
	Deep []DeepPoint `json:"deep"`
}

// SampleUser is one seeded account.
type SampleUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	// Depth is its place in the admin list (0: the newest seeded account).
	Depth int `json:"depth"`
}

// DeepPoint is a cursor of the admin list after the account at Depth.
type DeepPoint struct {
	Depth  int    `json:"depth"`
	Cursor string `json:"cursor"`
	// NextID is the account the page after Cursor starts with.
	NextID string `json:"nextId"`
}

// How many sampled accounts and deep cursors a manifest holds.
const (
	sampleSize = 2000
	deepPoints = 200
)

func (g *gen) manifest(engine string, st Stats) *Manifest {
	m := &Manifest{
		Engine: engine, Users: g.o.Users, Seed: g.o.Seed, SeededAt: g.now, Password: g.o.Password,
		Admin: AdminEmail, Rows: st.Rows, Sessions: st.Sessions, SeedSeconds: st.Elapsed.Seconds(),
		Surnames: surnames,
	}
	n := g.o.Users
	stride := max(n/sampleSize, 1)
	for i := 0; i < n && len(m.Sample) < sampleSize; i += stride {
		// The next loginable account at or after i.
		for j := i; j < min(i+stride, n); j++ {
			if a := g.account(j); a.loginable() {
				m.Sample = append(m.Sample, SampleUser{ID: a.id, Email: a.email, Name: a.name, Depth: j})
				break
			}
		}
	}
	for k := range deepPoints {
		d := (2*k + 1) * n / (2 * deepPoints)
		if d+1 >= n || (k > 0 && d == m.Deep[len(m.Deep)-1].Depth) {
			continue
		}
		a := g.account(d)
		m.Deep = append(m.Deep, DeepPoint{Depth: d, Cursor: UserCursor(a.createdAt, a.id), NextID: g.account(d + 1).id})
	}
	return m
}

// UserCursor is the admin list's cursor after the account created at with
// id: base64url of "<Unix microseconds>.<id>", the service's keyset cursor
// (adapter/persistence). The load tool checks every page it asks for with
// one starts where the manifest says, so a change of format shows there.
func UserCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

// WriteManifest writes m as JSON to path.
func WriteManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ReadManifest reads a manifest written by WriteManifest.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.Users < 1 || len(m.Sample) == 0 {
		return nil, fmt.Errorf("manifest %s: no accounts", path)
	}
	return &m, nil
}
