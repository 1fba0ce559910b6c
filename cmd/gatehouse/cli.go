package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/token"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// Exit codes of the operator commands, for scripts.
const (
	exitOK       = 0
	exitFailure  = 1 // the database or another dependency failed
	exitUsage    = 2 // unknown command or flag
	exitInvalid  = 3 // bad input (email, password, roles)
	exitConflict = 4 // the email is taken
	exitNotFound = 5 // no such account
)

// stdin is where `users create` reads the password; tests replace it.
var stdin io.Reader = os.Stdin

const cliUsage = `usage:
  gatehouse users create --email E [--name N] [--role R]...   (password on stdin; typed unechoed on a terminal)
  gatehouse users set-roles --email E R[,R...]
  gatehouse keys list
  gatehouse keys rotate
  gatehouse clients create --name N --redirect-uri U [--redirect-uri U2]... [--post-logout-redirect-uri U]... [--public] [--first-party] [--id-token-alg RS256|EdDSA]`

// operatorCommand runs `users ...` and `keys ...`: one line on stdout on
// success, one line on stderr and a distinct exit code on failure.
func operatorCommand(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "gatehouse: "+format+"\n", a...)
		return code
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, cliUsage)
		return exitUsage
	}
	cmd := args[0] + " " + args[1]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "account email")
	name := fs.String("name", "", "display name")
	var roles multiFlag
	fs.Var(&roles, "role", "role (repeatable)")
	if err := fs.Parse(args[2:]); err != nil {
		return fail(exitUsage, "%s: %v", cmd, err)
	}
	switch cmd {
	case "users create", "users set-roles", "keys list", "keys rotate":
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n%s\n", cmd, cliUsage)
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	op, tokens, closeDB, err := operatorServices(ctx)
	if err != nil {
		return fail(exitFailure, "%v", oneLine(err))
	}
	defer closeDB()
	_ = tokens

	switch cmd {
	case "users create":
		if *email == "" || fs.NArg() != 0 {
			return fail(exitUsage, "users create: --email is required and the password is read from stdin")
		}
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return fail(exitInvalid, "users create: %v", err)
		}
		u, err := op.creator.Create(ctx, admin.CLIActor, admin.CreateInput{Email: *email, Password: pw, Name: *name, Roles: roles})
		if err != nil {
			return fail(exitCode(err), "users create: %v", describe(err))
		}
		fmt.Fprintf(stdout, "created %s %s roles=%s\n", u.ID, u.Email, strings.Join(u.Roles, ","))
	case "users set-roles":
		if *email == "" || fs.NArg() != 1 {
			return fail(exitUsage, "users set-roles: want --email E R[,R...]")
		}
		v, err := op.roles.SetRolesByEmail(ctx, admin.CLIActor, *email, strings.Split(fs.Arg(0), ","))
		if err != nil {
			return fail(exitCode(err), "users set-roles: %v", describe(err))
		}
		fmt.Fprintf(stdout, "updated %s %s roles=%s\n", v.ID, v.Email, strings.Join(v.Roles, ","))
	case "keys list":
		keys, err := op.keys.Keys(ctx, admin.CLIActor)
		if err != nil {
			return fail(exitFailure, "keys list: %v", oneLine(err))
		}
		for _, k := range keys {
			fmt.Fprintln(stdout, keyLine(k))
		}
	case "keys rotate":
		k, err := op.rotator.RotateKey(ctx, admin.CLIActor)
		if err != nil {
			return fail(exitCode(err), "keys rotate: %v", oneLine(err))
		}
		fmt.Fprintln(stdout, keyLine(k))
	}
	return exitOK
}

func keyLine(k auth.KeyStatus) string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s %s %s created=%s activates=%s retires=%s",
		k.Key.ID, k.Key.Algorithm, k.State, ts(k.Key.CreatedAt), ts(k.Key.ActivatesAt), ts(k.RetiresAt))
}

// operator is what `users ...` and `keys ...` run: the admin interactors,
// each through the one method the command line calls.
type operator struct {
	creator interface {
		Create(ctx context.Context, a admin.Actor, in admin.CreateInput) (user.User, error)
	}
	roles interface {
		SetRolesByEmail(ctx context.Context, a admin.Actor, email string, roles []string) (admin.View, error)
	}
	keys interface {
		Keys(ctx context.Context, a admin.Actor) ([]auth.KeyStatus, error)
	}
	rotator interface {
		RotateKey(ctx context.Context, a admin.Actor) (auth.KeyStatus, error)
	}
}

// operatorServices opens the database (migrating it when
// DB_MIGRATE_ON_START allows, so the first admin can be made before the
// first serve) and builds the admin use cases on it.
func operatorServices(ctx context.Context) (operator, *token.Service, func(), error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return operator{}, nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := database.Open(databaseConfig(cfg), log)
	if err != nil {
		return operator{}, nil, nil, err
	}
	closeDB := func() { _ = database.Close(db) }
	op, tokens, err := operatorOn(ctx, cfg, db)
	if err != nil {
		closeDB()
		return operator{}, nil, nil, err
	}
	return op, tokens, closeDB, nil
}

// operatorOn builds the admin use cases on an open database; its caller
// closes the database when this fails.
func operatorOn(ctx context.Context, cfg config.Config, db *gorm.DB) (operator, *token.Service, error) {
	if cfg.Database.MigrateOnStart {
		if err := database.Migrate(ctx, db, cfg.Database.Driver); err != nil {
			return operator{}, nil, err
		}
	}
	keys := persistence.NewKeyStore(db, cfg.JWT.DataKeys)
	if _, err := keys.SealAtRest(ctx); err != nil {
		return operator{}, nil, err
	}
	tokens, err := token.NewService(ctx, tokenConfig(cfg), keys, time.Now)
	if err != nil {
		return operator{}, nil, err
	}
	hasher, err := newHasher(cfg)
	if err != nil {
		return operator{}, nil, err
	}
	// The command line creates accounts too: the app hears of them
	// (user.created, written to the outbox for the servers to post) and
	// its before-signup hook decides first.
	outbox, err := newWebhookOutbox(cfg, db)
	if err != nil {
		return operator{}, nil, err
	}
	hook, err := newSignupHook(cfg)
	if err != nil {
		return operator{}, nil, err
	}
	dir, events, tx, clock := persistence.NewAdminDirectory(db), persistence.NewAuditLog(db), persistence.NewTransactor(db), systemClock{}
	// The command line is exempt from the step-up rule (it has no token).
	guard := admin.NewWriteGuard(nil, nil, clock)
	return operator{
		creator: admin.NewAccountCreator(dir, hasher, events, nil, tx, clock).WithWebhooks(outbox, hook),
		roles: admin.NewAccountUpdater(dir, admin.WriterDeps{
			Sessions: newSessionStore(db, outbox), Audit: events, Tx: tx, Clock: clock, Guard: guard,
			Events: outbox,
		}),
		keys:    admin.NewKeyLister(tokens),
		rotator: admin.NewKeyRotator(tokens, guard, nil, clock),
	}, tokens, nil
}

// readPassword reads the password of `users create`: from a terminal,
// after a prompt on stderr and without echoing what is typed (so it is
// neither on the screen nor in a terminal recording); from anything else (a
// pipe, a file), the first line as is, without its line ending.
func readPassword(r io.Reader, prompt io.Writer) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		_, _ = fmt.Fprint(prompt, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		_, _ = fmt.Fprintln(prompt) // the Enter key was not echoed either
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("no password typed")
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

func exitCode(err error) int {
	var ve *user.ValidationError
	switch {
	case errors.As(err, &ve):
		return exitInvalid
	case errors.Is(err, user.ErrEmailTaken):
		return exitConflict
	case errors.Is(err, user.ErrNotFound):
		return exitNotFound
	case errors.Is(err, auth.ErrForbidden):
		return exitInvalid
	case errors.As(err, new(*webhook.RejectedError)):
		// The before-signup hook said no: refused, not failed.
		return exitInvalid
	}
	return exitFailure
}

// describe is the one-line public form of an error: field messages for
// validation, the sentinel's text otherwise.
func describe(err error) string {
	var ve *user.ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	return oneLine(err)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
