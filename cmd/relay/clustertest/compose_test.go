//go:build cluster

package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestComposeFile validates compose.yaml with the compose tool itself (no
// container engine needed) and checks the deployment it describes: the
// three NATS nodes from one nats.conf, Redis with an append-only file, two
// edges and two workers of one image with the same secrets, replicated
// streams, health checks and volumes. The image's Dockerfile and
// .dockerignore are checked as text (building them needs an engine).
func TestComposeFile(t *testing.T) {
	cfg := composeConfig(t)
	var services []string
	for name := range cfg.Services {
		services = append(services, name)
	}
	slices.Sort(services)
	if want := []string{"edge-1", "edge-2", "nats-1", "nats-2", "nats-3", "redis", "worker-1", "worker-2"}; !slices.Equal(services, want) {
		t.Fatalf("services %v, want %v", services, want)
	}
	for _, v := range []string{"nats-1", "nats-2", "nats-3", "redis", "edge-1", "edge-2"} {
		if _, ok := cfg.Volumes[v]; !ok {
			t.Errorf("no named volume %s", v)
		}
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		s := cfg.Services[name]
		mounts := s.mounts()
		switch {
		case s.Environment["NODE_NAME"] != name:
			t.Errorf("%s: NODE_NAME = %q", name, s.Environment["NODE_NAME"])
		case !strings.Contains(strings.Join(s.Command, " "), "-c /etc/nats/nats.conf"):
			t.Errorf("%s: command %v does not load /etc/nats/nats.conf", name, s.Command)
		case !strings.HasSuffix(mounts["/etc/nats/nats.conf"], "nats.conf") || mounts["/data"] != name:
			t.Errorf("%s: mounts %v; want nats.conf and volume %s at /data (nats.conf's store_dir)", name, mounts, name)
		case !strings.Contains(s.healthcheck(), "/healthz?js-enabled-only=true"):
			t.Errorf("%s: health check %q", name, s.healthcheck())
		}
	}
	for i := 1; i <= 3; i++ {
		env := cfg.Services[fmt.Sprintf("nats-%d", i)].Environment
		if env["RELAY_NATS_PASSWORD"] != relayNATSPassword || env["ANALYST_NATS_PASSWORD"] != analystNATSPassword {
			t.Errorf("nats-%d: the passwords of nats.conf's users are not the ones of .env", i)
		}
	}
	redis := cfg.Services["redis"]
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--requirepass "+composeRedisPassword) ||
		redis.Environment["REDISCLI_AUTH"] != composeRedisPassword || redis.mounts()["/data"] != "redis" || !strings.Contains(redis.healthcheck(), "ping") {
		t.Errorf("redis: command %q, mounts %v, health check %q; want an append-only file on volume redis, requirepass REDIS_PASSWORD, checked with PING", cmd, redis.mounts(), redis.healthcheck())
	}
	for _, name := range []string{"edge-1", "edge-2", "worker-1", "worker-2"} {
		s := cfg.Services[name]
		role, check := "worker", "/health"
		if strings.HasPrefix(name, "edge") {
			role, check = "edge", "/ready"
		}
		env := s.Environment
		switch {
		case !slices.Equal(s.Command, []string{role}):
			t.Errorf("%s: command %v, want [%s]", name, s.Command, role)
		case s.Image != "relay:local" || s.Build == nil:
			t.Errorf("%s: image %q built here: %v; want the one relay image", name, s.Image, s.Build != nil)
		case env["NATS_REPLICAS"] != "3" || env["NATS_URL"] != "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222" || env["REDIS_URL"] != "redis://:"+composeRedisPassword+"@redis:6379/0":
			t.Errorf("%s: NATS_REPLICAS %q NATS_URL %q REDIS_URL %q", name, env["NATS_REPLICAS"], env["NATS_URL"], env["REDIS_URL"])
		case env["NATS_USER"] != "relay" || env["NATS_PASSWORD"] != relayNATSPassword:
			t.Errorf("%s: NATS_USER %q and NATS_PASSWORD not relay's of .env", name, env["NATS_USER"])
		case role == "edge" && (env["NATS_ANALYST_USER"] != "analyst" || env["NATS_ANALYST_PASSWORD"] != analystNATSPassword):
			t.Errorf("%s: NATS_ANALYST_USER %q and NATS_ANALYST_PASSWORD not the analyst's of .env (usage export)", name, env["NATS_ANALYST_USER"])
		case role == "worker" && env["NATS_ANALYST_PASSWORD"] != "":
			t.Errorf("%s: a worker has the analyst's password; only edges export", name)
		case env["JWT_SECRET"] != jwtSecret || env["ENCRYPTION_KEY"] != encryptionKey:
			t.Errorf("%s: JWT_SECRET or ENCRYPTION_KEY not the ones of .env", name)
		case !strings.Contains(s.healthcheck(), "127.0.0.1:3000"+check):
			t.Errorf("%s: health check %q, want %s", name, s.healthcheck(), check)
		}
		for _, dep := range []string{"nats-1", "nats-2", "nats-3", "redis"} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s: depends on %s %+v, want service_healthy", name, dep, s.DependsOn[dep])
			}
		}
		if role == "edge" && s.mounts()["/data"] != name {
			t.Errorf("%s: mounts %v; want its own volume %s for the spool at /data", name, s.mounts(), name)
		}
	}

	// The secrets are required: without any one of them compose refuses
	// the file.
	for _, name := range []string{"JWT_SECRET", "RELAY_NATS_PASSWORD", "ANALYST_NATS_PASSWORD", "REDIS_PASSWORD"} {
		env := strings.Replace(composeEnv(), name+"=", "UNSET_"+name+"=", 1)
		if out, err := composeRun(t, env, "config", "-q"); err == nil || !strings.Contains(out, "set "+name) {
			t.Errorf("compose config without %s: %v %s; want a refusal naming it", name, err, out)
		}
	}

	dockerfile := readRepoFile(t, "Dockerfile")
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(dockerfile, -1)
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(dockerfile, -1)
	switch {
	case len(froms) < 2:
		t.Errorf("Dockerfile: %d stages, want a build stage and a final one", len(froms))
	case !regexp.MustCompile(`^(alpine|gcr.io/distroless/static|scratch)`).MatchString(froms[len(froms)-1][1]):
		t.Errorf("Dockerfile: final stage %s, want alpine, distroless static or scratch", froms[len(froms)-1][1])
	case !strings.Contains(dockerfile, "CGO_ENABLED=0"):
		t.Error("Dockerfile: the binary is not built static (CGO_ENABLED=0)")
	case len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "root") || strings.HasPrefix(users[len(users)-1][1], "0"):
		t.Errorf("Dockerfile: runs as %v, want a non-root user", users)
	}
	if ignore := readRepoFile(t, ".dockerignore"); !regexp.MustCompile(`(?m)^\.env$`).MatchString(ignore) {
		t.Error(".dockerignore does not keep .env (the secrets) out of the build context")
	}
}

// composeFile is the part of `compose config` the test reads.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Build       any               `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Volumes     []json.RawMessage `json:"volumes"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
}

func (s composeService) healthcheck() string { return strings.Join(s.Healthcheck.Test, " ") }

// mounts maps each mount's target to its source (a volume name or a
// path). docker-compose v1 writes "source:target:mode", v2 an object.
func (s composeService) mounts() map[string]string {
	out := map[string]string{}
	for _, raw := range s.Volumes {
		var short string
		if json.Unmarshal(raw, &short) == nil {
			parts := strings.Split(short, ":")
			if len(parts) >= 2 {
				out[parts[1]] = parts[0]
			}
			continue
		}
		var long struct{ Source, Target string }
		if json.Unmarshal(raw, &long) == nil {
			out[long.Target] = long.Source
		}
	}
	return out
}

// composeRedisPassword is REDIS_PASSWORD in the test's .env.
const composeRedisPassword = "clustertest-redis-password"

// composeEnv is the test's .env: every secret compose requires.
func composeEnv() string {
	return fmt.Sprintf("JWT_SECRET=%s\nENCRYPTION_KEY=%s\nADMIN_PASSWORD=%s\nRELAY_NATS_PASSWORD=%s\nANALYST_NATS_PASSWORD=%s\nREDIS_PASSWORD=%s\n",
		jwtSecret, encryptionKey, adminPassword, relayNATSPassword, analystNATSPassword, composeRedisPassword)
}

// composeConfig runs `compose config` on compose.yaml with an .env of the
// test's secrets and returns the normalised file.
func composeConfig(t *testing.T) composeFile {
	t.Helper()
	env := composeEnv()
	if out, err := composeRun(t, env, "config", "-q"); err != nil {
		t.Fatalf("compose config -q: %v\n%s", err, out)
	}
	var js []byte
	if v2 := composeV2(); v2 {
		out, err := composeRun(t, env, "config", "--format", "json")
		if err != nil {
			t.Fatalf("docker compose config: %v\n%s", err, out)
		}
		js = []byte(out)
	} else {
		// docker-compose v1 prints YAML only; its own dependency
		// python3-yaml turns it into JSON.
		out, err := composeRun(t, env, "config")
		if err != nil {
			t.Fatalf("docker-compose config: %v\n%s", err, out)
		}
		conv := exec.Command("python3", "-c", "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)")
		conv.Stdin = strings.NewReader(out)
		if js, err = conv.Output(); err != nil {
			t.Fatalf("YAML to JSON with python3-yaml: %v", err)
		}
	}
	var cfg composeFile
	if err := json.Unmarshal(js, &cfg); err != nil {
		t.Fatalf("compose config output: %v", err)
	}
	return cfg
}

// composeRun runs the compose tool in a copy of compose.yaml and nats.conf
// with env as .env, and returns its combined output.
func composeRun(t *testing.T, env string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"compose.yaml", "nats.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(readRepoFile(t, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, pre := composeTool(t)
	cmd := exec.Command(bin, append(pre, args...)...)
	cmd.Dir = dir
	// Only the .env file speaks: no JWT_SECRET of the developer's shell.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// composeTool finds `docker compose` (v2) or docker-compose (v1, Debian's
// package); without either it skips, or fails under CI.
func composeTool(t *testing.T) (string, []string) {
	t.Helper()
	if composeV2() {
		return "docker", []string{"compose"}
	}
	if bin, err := exec.LookPath("docker-compose"); err == nil {
		return bin, nil
	}
	if os.Getenv("CI") != "" {
		t.Fatal("neither `docker compose` nor docker-compose is installed: apt-get install -y docker-compose")
	}
	t.Skip("neither `docker compose` nor docker-compose is installed (apt-get install -y docker-compose); with CI set this fails instead")
	return "", nil
}

// composeV2 reports whether the docker CLI has the compose plugin.
func composeV2() bool {
	return exec.Command("docker", "compose", "version").Run() == nil
}

// readRepoFile reads a file at the repository's root.
func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
