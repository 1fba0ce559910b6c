package deploytest

import (
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// haCompose is the part of configs/compose/ha.yml the checks read.
type haCompose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestHACompose checks the wiring of the high-availability compose file
// and the PgBouncer and HAProxy configurations it mounts: the shape that
// make test-ha proves on loopback.
func TestHACompose(t *testing.T) {
	var c haCompose
	if err := yaml.Unmarshal(read(t, "configs/compose/ha.yml"), &c); err != nil {
		t.Fatalf("ha.yml: %v", err)
	}
	primary, ok := c.Services["postgres-primary"]
	if !ok || !strings.HasPrefix(primary.Image, "postgres:") {
		t.Fatalf("no postgres-primary service: %v", keys(c.Services))
	}
	if !strings.Contains(strings.Join(primary.Command, " "), "synchronous_standby_names") {
		t.Error("the primary does not replicate synchronously: a failover could undo acknowledged writes")
	}
	if !containsPrefix(primary.Volumes, "./primary-init.sh:/docker-entrypoint-initdb.d/") {
		t.Error("the primary does not create the replication role")
	}
	init := string(read(t, "configs/compose/primary-init.sh"))
	if !strings.Contains(init, "REPLICATION") || !strings.Contains(init, "host replication replicator") {
		t.Error("primary-init.sh does not allow the replica to stream")
	}
	replica := c.Services["postgres-replica"]
	script := strings.Join(replica.Entrypoint, " ")
	for _, want := range []string{"pg_basebackup", "-h postgres-primary", "-R"} {
		if !strings.Contains(script, want) {
			t.Errorf("the replica's start lacks %q", want)
		}
	}
	if replica.DependsOn["postgres-primary"].Condition != "service_healthy" {
		t.Error("the replica does not wait for a healthy primary")
	}

	bouncer := c.Services["pgbouncer"]
	if bouncer.Image == "" || !containsPrefix(bouncer.Volumes, "./pgbouncer.ini:") {
		t.Fatalf("pgbouncer service: %+v", bouncer)
	}
	ini := string(read(t, "configs/compose/pgbouncer.ini"))
	for _, re := range []string{`(?m)^pool_mode = transaction$`, `(?m)^gatehouse = host=postgres-primary port=5432`, `(?m)^listen_port = 6432$`} {
		if !regexp.MustCompile(re).MatchString(ini) {
			t.Errorf("pgbouncer.ini does not match %s", re)
		}
	}

	migrate := c.Services["migrate"]
	if !contains(migrate.Command, "migrate") || !strings.Contains(migrate.Environment["DATABASE_URL"], "@postgres-primary:5432/") {
		t.Errorf("migrate must run on the primary directly: %+v", migrate)
	}
	var instances []string
	for name, s := range c.Services {
		if !strings.HasPrefix(name, "gatehouse-") {
			continue
		}
		instances = append(instances, name)
		url := s.Environment["DATABASE_URL"]
		if !strings.Contains(url, "@pgbouncer:6432/") || !strings.Contains(url, "default_query_exec_mode=cache_describe") {
			t.Errorf("%s: DATABASE_URL %q does not go through PgBouncer with cache_describe", name, url)
		}
		if s.Environment["DB_MIGRATE_ON_START"] != "false" {
			t.Errorf("%s migrates at start through PgBouncer", name)
		}
		if s.Build == nil || s.DependsOn["migrate"].Condition != "service_completed_successfully" {
			t.Errorf("%s: not built here, or does not wait for the migrations", name)
		}
	}
	if len(instances) < 2 {
		t.Fatalf("%d gatehouse instances, want at least 2", len(instances))
	}

	lb := c.Services["haproxy"]
	if !strings.HasPrefix(lb.Image, "haproxy:") || !contains(lb.Ports, "3000:3000") {
		t.Errorf("haproxy service: %+v", lb)
	}
	cfg := string(read(t, "configs/compose/haproxy.cfg"))
	if !strings.Contains(cfg, "option httpchk GET /readyz") || !strings.Contains(cfg, "http-check expect status 200") {
		t.Error("haproxy.cfg does not health-check /readyz")
	}
	for _, name := range instances {
		if !regexp.MustCompile(`(?m)^\s*server ` + name + ` ` + name + `:3000 check`).MatchString(cfg) {
			t.Errorf("haproxy.cfg does not balance %s with checks", name)
		}
		if lb.DependsOn[name].Condition == "" {
			t.Errorf("haproxy does not depend on %s", name)
		}
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, v := range list {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
