package scale

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
)

// The lifetimes the fixture's sessions are shaped by: the service's
// defaults (REFRESH_IDLE_TTL, REFRESH_ABSOLUTE_TTL) and the purge's
// retention of ended sessions.
const (
	idleTTL        = 7 * 24 * time.Hour
	absoluteTTL    = 30 * 24 * time.Hour
	purgeRetention = 24 * time.Hour
	day            = 24 * time.Hour
	// accountSpan is how far back account creation goes: the oldest seeded
	// account is this old.
	accountSpan = 3 * 365 * day
	// eventSpan is how far back security events go: two years, so about
	// half of them are past the default 365-day retention and purgeable.
	eventSpan = 2 * 365 * day
)

// Streams of the per-user generators: each table's values for account i
// come from their own generator, so every table can be written on its own
// (in parallel, in any order) and still agree on the account's facts.
const (
	streamUser uint64 = iota + 1
	streamSessions
	streamEvents
	streamFactors
	streamOutbox
)

// gen derives every row of the fixture from (seed, account index): the
// same options give the same database, and account i's rows can be made
// without having made the others.
type gen struct {
	o    Options
	now  time.Time
	hash string
	step time.Duration // between consecutive accounts' creation times
}

func newGen(o Options, hash string) *gen {
	step := accountSpan / time.Duration(max(o.Users, 1))
	return &gen{o: o, now: o.Now, hash: hash, step: min(step, day)}
}

func (g *gen) rng(stream uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(g.o.Seed^stream<<56, uint64(i)))
}

// uuid4 draws a version 4 UUID from r.
func uuid4(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return id.FromBytes(b)
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// between draws a time uniformly in [from, to) (from when to <= from).
func between(r *rand.Rand, from, to time.Time) time.Time {
	span := to.Sub(from)
	if span <= 0 {
		return from
	}
	return from.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Microsecond)
}

// account is what every table knows of account i.
type account struct {
	i         int
	id        string
	email     string
	name      string
	surname   string
	createdAt time.Time
	verified  bool
	disabled  bool
	totp      bool
	passkey   bool
}

// Index of the administrator: the newest account, before account 0.
const adminIndex = -1

func (g *gen) account(i int) account {
	r := g.rng(streamUser, i+1)
	a := account{i: i, id: uuid4(r)}
	if i == adminIndex {
		a.email, a.name, a.surname = AdminEmail, "Scale Admin", "Admin"
		a.createdAt = g.now.Add(-30 * time.Minute)
		a.verified = true
		return a
	}
	first := firstNames[r.IntN(len(firstNames))]
	a.surname = surnames[r.IntN(len(surnames))]
	a.name = first + " " + a.surname
	a.email = strings.ToLower(first) + "." + strings.ToLower(a.surname) + "." + strconv.Itoa(i) + "@" + domains[r.IntN(len(domains))]
	// Account i is the (i+1)-th newest: creation times strictly decrease,
	// so the admin list's order (newest first) is the index order.
	a.createdAt = g.now.Add(-time.Hour - time.Duration(i)*g.step).Truncate(time.Microsecond)
	a.verified = r.Float64() < 0.9
	a.disabled = r.Float64() < 0.01
	a.totp = r.Float64() < g.o.TOTPShare
	a.passkey = r.Float64() < g.o.PasskeyShare
	return a
}

// loginable reports whether the service logs a in with the password alone.
func (a account) loginable() bool { return !a.disabled && !a.totp && a.i != adminIndex }

// roles of a seeded account.
func (a account) roles() string {
	if a.i == adminIndex {
		return "admin,user"
	}
	return "user"
}

func (g *gen) userRow(a account) []any {
	updated := a.createdAt
	return []any{a.id, a.email, a.name, a.roles(), g.hash, a.createdAt, updated, int64(0), a.verified, a.disabled}
}

var userColumns = []string{"id", "email", "name", "roles", "password_hash", "created_at", "updated_at",
	"credential_version", "email_verified", "disabled"}

// Session kinds, with their share of the sessions.
type sessionKind int

const (
	sessionActive      sessionKind = iota // used within the idle lifetime
	sessionIdleEnded                      // idle lifetime over more than a day ago
	sessionAbsEnded                       // absolute lifetime over more than a day ago
	sessionRevokedOld                     // revoked more than a day ago
	sessionRecentEnded                    // revoked within the last day (the purge keeps it)
)

func pickKind(r *rand.Rand) sessionKind {
	switch p := r.Float64(); {
	case p < 0.50:
		return sessionActive
	case p < 0.65:
		return sessionIdleEnded
	case p < 0.77:
		return sessionAbsEnded
	case p < 0.92:
		return sessionRevokedOld
	default:
		return sessionRecentEnded
	}
}

// session is one seeded session's row.
type session struct {
	id                       string
	created, last, idle, abs time.Time
	revoked                  time.Time
	reason                   string
	generation               int64
	token, prev, sealed      []byte
	rotated                  time.Time
	ua, ip, methods          string
	purgeable                bool
	active                   bool
}

// sessions returns account a's sessions: 1 to 2*SessionsPerUser-1 of them
// (SessionsPerUser on average), with the ages of real use.
func (g *gen) sessions(a account) []session {
	r := g.rng(streamSessions, a.i+1)
	n := spread(r, g.o.SessionsPerUser)
	if a.i == adminIndex {
		n = 1
	}
	out := make([]session, 0, n)
	now := g.now
	for range n {
		s := session{id: uuid4(r), generation: 1, token: randBytes(r, 32),
			ua: userAgents[r.IntN(len(userAgents))], ip: randomIP(r), methods: "pwd"}
		if a.totp {
			s.methods = "pwd,otp,mfa"
		}
		kind := pickKind(r)
		if a.i == adminIndex {
			kind = sessionActive
		}
		// A kind the account is too young for becomes an active session.
		if now.Sub(a.createdAt) < 40*day && kind != sessionRecentEnded {
			kind = sessionActive
		}
		switch kind {
		case sessionActive:
			s.created = between(r, maxTime(a.createdAt, now.Add(-absoluteTTL+time.Hour)), now.Add(-time.Minute))
			s.last = between(r, maxTime(s.created, now.Add(-idleTTL+time.Hour)), now)
		case sessionIdleEnded:
			s.created = between(r, now.Add(-absoluteTTL+2*day), now.Add(-idleTTL-3*day))
			s.last = between(r, s.created, now.Add(-idleTTL-purgeRetention-time.Hour))
		case sessionAbsEnded:
			s.created = between(r, now.Add(-120*day), now.Add(-absoluteTTL-purgeRetention-time.Hour))
			s.last = between(r, s.created, s.created.Add(absoluteTTL-day))
		case sessionRevokedOld:
			s.created = between(r, now.Add(-absoluteTTL+2*day), now.Add(-2*day))
			s.last = between(r, s.created, now.Add(-purgeRetention-time.Hour))
			s.revoked, s.reason = s.last.Add(time.Minute), "logout"
		case sessionRecentEnded:
			s.created = between(r, maxTime(a.createdAt, now.Add(-10*day)), now.Add(-2*time.Hour))
			s.last = between(r, maxTime(s.created, now.Add(-23*time.Hour)), now.Add(-time.Hour))
			s.revoked, s.reason = s.last.Add(time.Minute), "logout"
		}
		s.abs = s.created.Add(absoluteTTL)
		s.idle = minTime(s.last.Add(idleTTL), s.abs)
		if s.last.After(s.created) {
			// Refreshed since it started: a later generation, the
			// predecessor's hash, and for a few a sealed successor the
			// purge has yet to erase.
			s.generation = 1 + r.Int64N(200)
			if s.generation > 1 {
				s.prev, s.rotated = randBytes(r, 32), s.last
				if r.Float64() < 0.05 {
					s.sealed = randBytes(r, 120)
				}
			}
		}
		cutoff := now.Add(-purgeRetention)
		s.purgeable = (!s.revoked.IsZero() && s.revoked.Before(cutoff)) || s.idle.Before(cutoff) || s.abs.Before(cutoff)
		s.active = s.revoked.IsZero() && s.idle.After(now) && s.abs.After(now)
		out = append(out, s)
	}
	return out
}

var sessionColumns = []string{"id", "user_id", "created_at", "last_used_at", "idle_expires_at", "absolute_expires_at",
	"auth_time", "revoked_at", "revoke_reason", "user_agent", "ip", "generation", "token_hash", "prev_token_hash",
	"rotated_at", "successor_sealed", "auth_methods"}

func sessionRow(a account, s session) []any {
	return []any{s.id, a.id, s.created, s.last, s.idle, s.abs, s.created, nullTime(s.revoked), s.reason, s.ua, s.ip,
		s.generation, s.token, nullBytes(s.prev), nullTime(s.rotated), nullBytes(s.sealed), s.methods}
}

// Legacy token rows, for a schema from before 00004 (the token's hash
// lived in refresh_tokens then): the current generation of each session.
var refreshTokenColumns = []string{"token_hash", "session_id", "generation", "created_at", "rotated_at", "successor_sealed"}

func refreshTokenRow(s session) []any {
	return []any{s.token, s.id, s.generation, s.last, nil, nil}
}

// eventKinds and their weights: mostly logins.
var eventKinds = []struct {
	typ    string
	weight float64
}{
	{"login_succeeded", 0.60}, {"login_failed", 0.15}, {"session_revoked", 0.10},
	{"reauthenticated", 0.05}, {"password_changed", 0.04}, {"email_verified", 0.04}, {"logout_all", 0.02},
}

var eventColumns = []string{"id", "user_id", "session_id", "type", "ip", "user_agent", "created_at", "actor_id"}

// events returns account a's security events over the last two years (or
// since the account was made): EventsPerUser on average.
func (g *gen) events(a account, sessions []session) [][]any {
	r := g.rng(streamEvents, a.i+1)
	n := spread(r, g.o.EventsPerUser)
	out := make([][]any, 0, n)
	for range n {
		p, typ := r.Float64(), eventKinds[len(eventKinds)-1].typ
		for _, k := range eventKinds {
			if p < k.weight {
				typ = k.typ
				break
			}
			p -= k.weight
		}
		var sid any
		if len(sessions) > 0 && r.Float64() < 0.7 {
			sid = sessions[r.IntN(len(sessions))].id
		}
		at := between(r, maxTime(a.createdAt, g.now.Add(-eventSpan)), g.now)
		out = append(out, []any{uuid4(r), a.id, sid, typ, randomIP(r), userAgents[r.IntN(len(userAgents))], at, nil})
	}
	return out
}

var totpColumns = []string{"user_id", "secret", "secret_key_id", "confirmed_at", "last_step", "pending",
	"pending_key_id", "pending_created_at", "updated_at"}

var recoveryCodeColumns = []string{"user_id", "code_hash", "created_at", "used_at"}

var passkeyColumns = []string{"id", "user_id", "name", "credential_id", "credential", "created_at", "last_used_at"}

// factors returns account a's TOTP factor and recovery codes, and its
// passkey, as rows (none when it has none).
func (g *gen) factors(a account) (totp []any, codes [][]any, passkey []any) {
	if !a.totp && !a.passkey {
		return nil, nil, nil
	}
	r := g.rng(streamFactors, a.i+1)
	at := between(r, a.createdAt, g.now)
	if a.totp {
		// Stored as is (secret_key_id ''), as without DATA_ENCRYPTION_KEY.
		totp = []any{a.id, randBytes(r, 20), "", at, int64(0), nil, "", nil, at}
		for range 10 {
			codes = append(codes, []any{a.id, randBytes(r, 32), at, nil})
		}
	}
	if a.passkey {
		passkey = []any{uuid4(r), a.id, "Security key", randBytes(r, 32), []byte(`{}`), at, nil}
	}
	return totp, codes, passkey
}

var outboxColumns = []string{"id", "kind", "recipient", "link", "ttl_seconds", "status", "attempts",
	"next_attempt_at", "locked_until", "last_error", "created_at"}

// outboxRow is message k of the outbox: the first OutboxPending are due
// now, the rest gave up long ago (status failed, kept for operators, no
// link): rows the sender's claim must not have to read.
func (g *gen) outboxRow(k int) []any {
	r := g.rng(streamOutbox, k+1)
	a := g.account(r.IntN(max(g.o.Users, 1)))
	if k < g.o.OutboxPending {
		at := g.now.Add(-time.Duration(r.IntN(60_000)) * time.Millisecond)
		return []any{uuid4(r), "verify_email", a.email, "", int64(86400), "pending", 0,
			at.UnixMilli(), int64(0), "", at.Truncate(time.Microsecond)}
	}
	at := between(r, g.now.Add(-90*day), g.now.Add(-2*day))
	return []any{uuid4(r), "password_reset", a.email, "", int64(1800), "failed", 30,
		at.Add(day).UnixMilli(), int64(0), "gave up after 30 attempts: 550 mailbox unavailable", at}
}

// spread draws a count from 1 to 2*mean-1 (mean on average); 0 for a mean
// of 0.
func spread(r *rand.Rand, mean int) int {
	if mean <= 0 {
		return 0
	}
	return 1 + r.IntN(2*mean-1)
}

func randomIP(r *rand.Rand) string {
	if r.IntN(5) == 0 {
		return fmt.Sprintf("2001:db8:%x:%x::%x", r.IntN(65536), r.IntN(65536), r.IntN(65536))
	}
	return fmt.Sprintf("198.%d.%d.%d", 18+r.IntN(2), r.IntN(256), 1+r.IntN(254))
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var firstNames = []string{
	"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Ken",
	"Dennis", "Radia", "Tim", "Vint", "Katherine", "Linus", "Guido", "Bjarne", "Niklaus", "Leslie",
	"Shafi", "Silvio", "Whitfield", "Martin", "Adele", "Jean", "Sophie", "Hedy", "Annie", "Mary",
	"Ivan", "Robin", "Tony", "Butler", "Fernando", "Marvin", "Claude", "Norbert", "Alonzo", "Kurt",
	"Emmy", "Sofia", "Ingrid", "Yuki", "Hiro", "Amara", "Chidi", "Priya", "Arjun", "Mei",
	"Lars", "Astrid", "Mateo", "Lucia", "Omar", "Layla", "Nikolai", "Olga", "Pablo", "Rosa",
	"Kwame", "Ama", "Tariq", "Zainab", "Santiago", "Valentina", "Felix", "Clara", "Jonas", "Mila",
}

var surnames = []string{
	"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Hamilton", "Thompson",
	"Ritchie", "Perlman", "Berners", "Cerf", "Johnson", "Torvalds", "Rossum", "Stroustrup", "Wirth", "Lamport",
	"Goldwasser", "Micali", "Diffie", "Hellman", "Goldberg", "Sammet", "Wilson", "Lamarr", "Easley", "Keller",
	"Sutherland", "Milner", "Hoare", "Lampson", "Corbato", "Minsky", "Shannon", "Wiener", "Church", "Godel",
	"Noether", "Kovalevskaya", "Daubechies", "Matsumoto", "Tanaka", "Okafor", "Adeyemi", "Raman", "Sharma", "Chen",
	"Larsen", "Lindqvist", "Fernandez", "Garcia", "Haddad", "Nasser", "Petrov", "Ivanova", "Ruiz", "Moreno",
	"Mensah", "Owusu", "Rahman", "Bello", "Castillo", "Romero", "Schmidt", "Weber", "Novak", "Horvat",
	"Nakamura", "Kowalski", "Nowak", "Dubois", "Laurent", "Rossi", "Bianchi", "Silva", "Santos", "Oliveira",
	"Murphy", "Kelly", "Walsh", "Byrne", "Jensen", "Nielsen", "Hansen", "Virtanen", "Korhonen", "Kaya",
	"Demir", "Yilmaz", "Cohen", "Levi", "Friedman", "Park", "Kim", "Nguyen", "Tran", "Pham",
}

var domains = []string{"example.com", "example.org", "example.net", "mail.example.com", "corp.example", "uni.example.edu"}

var userAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"gatehouse-go/1.4 (cli)",
}
