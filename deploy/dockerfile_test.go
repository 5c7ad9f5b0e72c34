package deploy

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerfile builds the blockd image.
const dockerfile = "Dockerfile"

// parseDockerfile parses dockerfile as BuildKit does, into its stages; a
// warning of BuildKit's build checks (docker build --check) fails the test.
func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	src, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("%s: %v", dockerfile, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: %s", dockerfile, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		t.Errorf("%s: build check %s: %s (at %v)", dockerfile, rule, msg, loc)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("%s: %v", dockerfile, err)
	}
	return stages
}

// commands returns the stage's commands of type T.
func commands[T instructions.Command](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestDockerfileBuildStage(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%s: %d stage(s), want a build stage and the image", dockerfile, len(stages))
	}
	final := stages[len(stages)-1]
	// The final stage copies the binary from a build stage.
	var build *instructions.Stage
	for _, cp := range commands[*instructions.CopyCommand](final) {
		for i := range stages[:len(stages)-1] {
			if cp.From != "" && (stages[i].Name == cp.From || fmt.Sprint(i) == cp.From) {
				build = &stages[i]
			}
		}
	}
	if build == nil {
		t.Fatalf("%s: the final stage copies nothing from an earlier stage", dockerfile)
	}
	if !strings.HasPrefix(build.BaseName, "golang:1.26") {
		t.Errorf("%s: the build stage is FROM %s, want golang:1.26 (go.mod's Go)", dockerfile, build.BaseName)
	}
	// A static binary: cgo off, set with ENV in the stage or on the go
	// build line itself.
	cgoOff := false
	for _, env := range commands[*instructions.EnvCommand](*build) {
		for _, kv := range env.Env {
			cgoOff = cgoOff || kv.Key == "CGO_ENABLED" && kv.Value == "0"
		}
	}
	var goBuild string
	for _, run := range commands[*instructions.RunCommand](*build) {
		line := strings.Join(run.CmdLine, " ")
		if strings.Contains(line, "go build") {
			goBuild = line
		}
	}
	cgoOff = cgoOff || strings.Contains(goBuild, "CGO_ENABLED=0")
	if !cgoOff {
		t.Errorf("%s: the build stage does not set CGO_ENABLED=0: the binary would need libc, which the image lacks", dockerfile)
	}
	for _, want := range []string{"-trimpath", "./cmd/blockd"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("%s: the go build line %q lacks %s", dockerfile, goBuild, want)
		}
	}
}

func TestDockerfileFinalStage(t *testing.T) {
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]

	// No shell: nothing can RUN there, and nothing should.
	if runs := commands[*instructions.RunCommand](final); len(runs) > 0 {
		t.Errorf("%s: the final stage RUNs %q: the image has no shell", dockerfile, runs[0].CmdLine)
	}
	shellless := strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") || final.BaseName == "scratch"
	if !shellless {
		t.Errorf("%s: the image is FROM %s, want distroless/static or scratch (no shell)", dockerfile, final.BaseName)
	}

	// Non-root: a numeric USER other than 0, or the base's nonroot user.
	users := commands[*instructions.UserCommand](final)
	nonroot := strings.HasSuffix(final.BaseName, ":nonroot")
	if len(users) > 0 {
		u := users[len(users)-1].User
		uid, _, _ := strings.Cut(u, ":")
		nonroot = uid != "0" && uid != "root" && uid != ""
		if uid == "nonroot" {
			nonroot = strings.Contains(final.BaseName, "distroless")
		}
	}
	if !nonroot {
		t.Errorf("%s: the image runs as root", dockerfile)
	}

	eps := commands[*instructions.EntrypointCommand](final)
	if len(eps) != 1 || eps[0].PrependShell || !slices.Equal(eps[0].CmdLine, []string{"/blockd"}) {
		t.Errorf("%s: want one ENTRYPOINT [\"/blockd\"] in exec form (no shell to run a shell form)", dockerfile)
	}
	cmds := commands[*instructions.CmdCommand](final)
	if len(cmds) != 1 || cmds[0].PrependShell || !slices.Equal(cmds[0].CmdLine, []string{"serve"}) {
		t.Errorf("%s: want CMD [\"serve\"] in exec form", dockerfile)
	}
	var exposed []string
	for _, e := range commands[*instructions.ExposeCommand](final) {
		exposed = append(exposed, e.Ports...)
	}
	slices.Sort(exposed)
	if want := []string{"8080", "8081"}; !slices.Equal(exposed, want) {
		t.Errorf("%s: EXPOSE %v, want %v (the probes and the operator endpoints)", dockerfile, exposed, want)
	}
}
