package deploy

import (
	"context"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFile is the topology to try blockd on one machine.
const composeFile = "compose.yaml"

// loadCompose loads composeFile as docker compose does: validated against
// the Compose Specification's schema (an unknown key is an error),
// interpolated, normalized, and checked for consistency (a service
// depending on, or a secret of, one that does not exist). The host's
// environment takes no part.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing may depend on the machine it runs on.
	if strings.Contains(string(raw), "${") || strings.Contains(string(raw), "env_file") {
		t.Errorf("%s: interpolates or reads an env_file: the file must be complete as it is", composeFile)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, composeFile)}},
		Environment: types.Mapping{},
	})
	if err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return p
}

// environment is a service's variables; one listed without a value is
// taken from the host, which this file must not do.
func environment(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("%s: service %s takes %s from the host's environment", composeFile, s.Name, k)
			continue
		}
		env[k] = *v
	}
	return env
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return s
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"blockd", "kafka", "postgres", "sandbox"}; !slices.Equal(names, want) {
		t.Errorf("%s: services %v, want %v", composeFile, names, want)
	}
	// Both blockd services run the image deploy/Dockerfile builds from
	// the repository's root.
	for _, name := range []string{"blockd", "sandbox"} {
		s := service(t, p, name)
		b := s.Build
		if b == nil || filepath.Clean(b.Context) != filepath.Clean(filepath.Join(p.WorkingDir, "..")) || b.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: service %s builds %+v, want deploy/Dockerfile with the repository's root as context", composeFile, name, b)
		}
	}
	if a, b := service(t, p, "blockd").Image, service(t, p, "sandbox").Image; a == "" || a != b {
		t.Errorf("%s: blockd's image %q and sandbox's %q differ: both are the one blockd image", composeFile, a, b)
	}
}

// hasHealthcheck says whether s has a healthcheck that runs a command.
func hasHealthcheck(s types.ServiceConfig) bool {
	h := s.HealthCheck
	return h != nil && !h.Disable && len(h.Test) > 1 && h.Test[0] != "NONE"
}

func TestComposeKafkaAndPostgres(t *testing.T) {
	p := loadCompose(t)

	kafka := service(t, p, "kafka")
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") {
		t.Errorf("%s: kafka's image is %q, want apache/kafka", composeFile, kafka.Image)
	}
	kenv := environment(t, kafka)
	roles := strings.Split(kenv["KAFKA_PROCESS_ROLES"], ",")
	if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") {
		t.Errorf("%s: KAFKA_PROCESS_ROLES=%q, want broker,controller (KRaft, one node)", composeFile, kenv["KAFKA_PROCESS_ROLES"])
	}
	ctrl := kenv["KAFKA_CONTROLLER_LISTENER_NAMES"]
	if ctrl == "" || !strings.Contains(kenv["KAFKA_LISTENERS"], ctrl+"://") {
		t.Errorf("%s: the controller listener %q is not among KAFKA_LISTENERS %q", composeFile, ctrl, kenv["KAFKA_LISTENERS"])
	}
	if voters := kenv["KAFKA_CONTROLLER_QUORUM_VOTERS"]; !strings.HasPrefix(voters, kenv["KAFKA_NODE_ID"]+"@kafka:") {
		t.Errorf("%s: KAFKA_CONTROLLER_QUORUM_VOTERS=%q, want this node (%s) at kafka", composeFile, voters, kenv["KAFKA_NODE_ID"])
	}
	if kenv["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] != "1" {
		t.Errorf("%s: KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=%q: one broker can keep only one replica; the group would never start", composeFile, kenv["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"])
	}
	// blockd reaches each broker where it is advertised.
	benv := environment(t, service(t, p, "blockd"))
	for _, b := range strings.Split(benv["BLOCKD_KAFKA_BROKERS"], ",") {
		if !strings.Contains(kenv["KAFKA_ADVERTISED_LISTENERS"], "://"+b) {
			t.Errorf("%s: blockd's broker %s is not among kafka's KAFKA_ADVERTISED_LISTENERS %q", composeFile, b, kenv["KAFKA_ADVERTISED_LISTENERS"])
		}
	}

	pg := service(t, p, "postgres")
	if pg.Image != "postgres:15" {
		t.Errorf("%s: postgres's image is %q, want postgres:15", composeFile, pg.Image)
	}
	if !hasHealthcheck(pg) || !strings.Contains(strings.Join(pg.HealthCheck.Test, " "), "pg_isready") {
		t.Errorf("%s: postgres's healthcheck does not run pg_isready", composeFile)
	}
	if !hasHealthcheck(kafka) {
		t.Errorf("%s: kafka has no healthcheck", composeFile)
	}
	// blockd's database is the one the postgres service makes, with its
	// user and password.
	penv := environment(t, pg)
	db, err := url.Parse(benv["BLOCKD_DATABASE_URL"])
	if err != nil {
		t.Fatalf("%s: BLOCKD_DATABASE_URL: %v", composeFile, err)
	}
	if db.Hostname() != "postgres" || db.User.Username() != penv["POSTGRES_USER"] || strings.TrimPrefix(db.Path, "/") != penv["POSTGRES_DB"] {
		t.Errorf("%s: BLOCKD_DATABASE_URL %s is not the postgres service's database %s of user %s", composeFile, db.Redacted(), penv["POSTGRES_DB"], penv["POSTGRES_USER"])
	}
	if _, set := db.User.Password(); set {
		t.Errorf("%s: BLOCKD_DATABASE_URL holds a password", composeFile)
	}
	if benv["PGPASSWORD"] == "" || benv["PGPASSWORD"] != penv["POSTGRES_PASSWORD"] {
		t.Errorf("%s: blockd's PGPASSWORD is not the postgres service's POSTGRES_PASSWORD", composeFile)
	}
}

func TestComposeSandbox(t *testing.T) {
	p := loadCompose(t)
	sb := service(t, p, "sandbox")
	if !slices.Equal([]string(sb.Command), []string{"sandbox"}) {
		t.Errorf("%s: sandbox's command %q, want [sandbox]", composeFile, sb.Command)
	}
	env := environment(t, sb)
	checkKnown(t, "sandbox", env)
	benv := environment(t, service(t, p, "blockd"))
	for _, prov := range []string{"FINNOTECH", "ARHIVAAR", "CARD"} {
		addr := env["BLOCKD_SANDBOX_"+prov+"_ADDR"]
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "0.0.0.0" {
			t.Errorf("%s: sandbox's BLOCKD_SANDBOX_%s_ADDR=%q, want 0.0.0.0:<port> (loopback is unreachable from blockd's container)", composeFile, prov, addr)
			continue
		}
		if want := "http://sandbox:" + port; benv["BLOCKD_"+prov+"_URL"] != want {
			t.Errorf("%s: blockd's BLOCKD_%s_URL=%q, want %s", composeFile, prov, benv["BLOCKD_"+prov+"_URL"], want)
		}
	}
}

// checkKnown reports every BLOCKD_* variable blockd does not know.
func checkKnown(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := knownVariables(t)
	for name := range env {
		if strings.HasPrefix(name, "BLOCKD_") && !known[name] {
			t.Errorf("%s: service %s sets %s, not a variable of blockd (%s lists none such)", composeFile, where, name, envExample)
		}
	}
}

func TestComposeBlockd(t *testing.T) {
	p := loadCompose(t)
	s := service(t, p, "blockd")
	if !slices.Equal([]string(s.Command), []string{"serve"}) {
		t.Errorf("%s: blockd's command %q, want [serve]", composeFile, s.Command)
	}
	env := environment(t, s)
	checkServeVariables(t, composeFile+" blockd", env)
	for _, name := range []string{"BLOCKD_HTTP_ADDR", "BLOCKD_ADMIN_ADDR"} {
		if host, _, err := net.SplitHostPort(env[name]); err != nil || host != "0.0.0.0" {
			t.Errorf("%s: blockd's %s=%q, want 0.0.0.0:<port>: on loopback no published port reaches it", composeFile, name, env[name])
		}
	}

	// It starts once Kafka, PostgreSQL and the sandboxes are healthy.
	wantDeps := map[string]string{"kafka": types.ServiceConditionHealthy, "postgres": types.ServiceConditionHealthy, "sandbox": types.ServiceConditionHealthy}
	for dep, cond := range wantDeps {
		got, ok := s.DependsOn[dep]
		if !ok || got.Condition != cond {
			t.Errorf("%s: blockd depends on %s with %+v, want condition %s", composeFile, dep, got, cond)
			continue
		}
		if cond == types.ServiceConditionHealthy && !hasHealthcheck(service(t, p, dep)) {
			t.Errorf("%s: blockd waits for %s to be healthy, which has no healthcheck", composeFile, dep)
		}
	}
	// The image has no shell, curl or wget: the healthchecks of the
	// services on it run blockd's own probe, in exec form (`blockd health`,
	// cmd/blockd/health.go), blockd's on its /readyz.
	for _, name := range []string{"blockd", "sandbox"} {
		h := service(t, p, name).HealthCheck
		if !hasHealthcheck(service(t, p, name)) || len(h.Test) < 3 || h.Test[0] != "CMD" || h.Test[1] != "/blockd" || h.Test[2] != "health" {
			t.Errorf("%s: service %s's healthcheck %v, want [CMD /blockd health ...]: the shell-less image runs nothing else", composeFile, name, h)
		}
	}
	if h := service(t, p, "blockd").HealthCheck; h != nil && len(h.Test) != 3 {
		t.Errorf("%s: blockd's healthcheck %v, want /blockd health with no URL: its own /readyz", composeFile, h.Test)
	}

	// Secrets: each *_FILE variable names a secret of the service, mounted
	// at /run/secrets/<name>, read from a file; a secret no variable names
	// is a mistake too.
	mounted := map[string]bool{}
	for _, ref := range s.Secrets {
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !path.IsAbs(target) {
			target = path.Join("/run/secrets", target)
		}
		mounted[target] = false
		def, ok := p.Secrets[ref.Source]
		if !ok || def.File == "" || def.Environment != "" || def.Content != "" {
			t.Errorf("%s: secret %s is not read from a file", composeFile, ref.Source)
		}
	}
	for name, v := range env {
		if !strings.HasSuffix(name, "_FILE") {
			continue
		}
		if _, ok := mounted[v]; !ok {
			t.Errorf("%s: blockd's %s=%s is not a secret mounted in the service", composeFile, name, v)
		}
		mounted[v] = true
	}
	for target, used := range mounted {
		if !used {
			t.Errorf("%s: blockd mounts the secret %s, which no variable names", composeFile, target)
		}
	}
}

// TestComposeSandboxSecretsExist: the sandboxes' credentials are in the
// repository; only the admin token and the token key are made on each
// machine (README.md), and .gitignore keeps them out of it.
func TestComposeSandboxSecretsExist(t *testing.T) {
	p := loadCompose(t)
	made := map[string]bool{"blockd_admin_token": true, "blockd_token.key": true}
	gitignore, err := os.ReadFile(filepath.Join("..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range p.Secrets {
		rel, err := filepath.Rel(p.WorkingDir, def.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("%s: secret %s is read from %s, outside deploy/", composeFile, name, def.File)
			continue
		}
		if made[name] {
			if !strings.Contains(string(gitignore), "/deploy/"+filepath.ToSlash(rel)+"\n") {
				t.Errorf(".gitignore does not keep the secret deploy/%s out of the repository", filepath.ToSlash(rel))
			}
			continue
		}
		if _, err := os.Stat(def.File); err != nil {
			t.Errorf("%s: secret %s: %v", composeFile, name, err)
		}
	}
}
