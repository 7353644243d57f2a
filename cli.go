package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/cloudauth"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/report"
	"github.com/shepherd-deploy/shepherd/sdk"
)

const overview = `shepherd — zero-downtime Kubernetes deploys that notice a bad release in seconds,
say why, and roll back to the last good revision.

usage:
  shepherd deploy   --release NAME --chart DIR|TGZ [--image-tag TAG] [flags]
  shepherd rollback --release NAME [--revision N] [--reason TEXT] [--force] [flags]
  shepherd history  --release NAME [flags]
  shepherd promote  --release NAME [flags]       (a blue-green or canary deploy stopped before its switch)
  shepherd abort    --release NAME [--reason TEXT] [flags]

  shepherd COMMAND --help   the flags of a command, with their defaults

The kubeconfig is --kubeconfig PATH, else the files of $KUBECONFIG (merged), else
~/.kube/config, else the service account of the pod it runs in. On a GitHub runner the same
binary is the action (inputs instead of flags).
`

// terminal is what the CLI knows of where it runs: whether stdout is a terminal (colour,
// progress), and how to ask a yes/no question on stdin. Tests replace it.
var terminal = struct {
	isTTY func(w io.Writer) bool
	ask   func(out io.Writer, question string) bool
}{isTTY: isTerminal, ask: askStdin}

// runCLI is the command line: the same engine as the action, flags instead of inputs, plain text
// (or JSON with --output json).
func runCLI(ctx, abort context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd, vals, code := parseCommand(args, stdout, stderr)
	if vals == nil {
		return code
	}
	kc, err := loadKubeconfig(vals.inputs[config.InKubeconfig], getenv)
	if err != nil {
		fmt.Fprintf(stderr, "shepherd: kubeconfig: %v\n", err)
		return 1
	}
	get := func(name string) string {
		switch name {
		case config.InKubeconfig:
			return string(kc)
		case config.InMode:
			return cmd.name
		}
		return vals.inputs[name]
	}
	cfg, err := config.FromInputs(get)
	if err != nil {
		fmt.Fprintf(stderr, "shepherd %s: invalid input:\n  %s\n", cmd.name, strings.ReplaceAll(config.RedactURLs(err.Error()), "\n", "\n  "))
		return 1
	}
	host, _ := os.Hostname()
	cfg.Owner = fmt.Sprintf("cli:%s:%d", host, os.Getpid())
	scrub := outcome.NewScrubber(cfg.SecretValues()) // nothing printed quotes a credential
	rep := outcome.RedactReporter(cliReporter(vals.cli["output"], getenv, stdout, stderr), scrub)
	// A plugin on the PATH runs as kubectl runs it; a missing one is made in process.
	edge := sdk.Options{Events: rep, Log: debugLogger(scrubWriter{stderr, scrub}, vals.cli["debug"] == "true"), Abort: abort,
		Providers: providers(getenv, func(string) {}, nil, cloudauth.Endpoints(cfg.CloudEndpoints))}
	if cmd.name == "rollback" && vals.cli["force"] != "true" {
		if !terminal.isTTY(os.Stdin) {
			// No one to ask (a script, a pipe): say so instead of hanging or guessing.
			fmt.Fprintln(stderr, "shepherd rollback: not on a terminal, so no one can confirm: add --force to roll back without asking")
			return 2
		}
		edge.Confirm = func(_ context.Context, p deploy.RollbackPlan) bool {
			return terminal.ask(stderr, p.Question())
		}
	}
	o := execute(ctx, cfg, edge)
	_ = rep.Finish(ctx, o)
	return o.ExitCode()
}

// parseCommand reads the command and its flags. Without a command to run (help, or a usage
// error, said on stderr) vals is nil and code is the exit code.
func parseCommand(args []string, stdout, stderr io.Writer) (cmd command, vals *flagValues, code int) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, overview)
		return cmd, nil, 0
	}
	cmd, ok := commands[args[0]]
	switch {
	case args[0] == "demo":
		fmt.Fprintln(stderr, "shepherd: the demo is not part of the release binary (it needs the local test cluster): run `make demo` in a Shepherd checkout")
		return cmd, nil, 2
	case !ok:
		fmt.Fprintf(stderr, "shepherd: unknown command %q (want deploy, rollback, history, promote or abort; shepherd --help lists them)\n", args[0])
		return cmd, nil, 2
	}
	fs, vals := cmd.flagSet(stdout, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cmd, nil, 0
		}
		return cmd, nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "shepherd %s: unexpected arguments %q (flags take --name value)\n", cmd.name, fs.Args())
		return cmd, nil, 2
	}
	if o := vals.cli["output"]; o != "text" && o != "json" {
		fmt.Fprintf(stderr, "shepherd %s: --output: %q is not supported (allowed: text, json)\n", cmd.name, o)
		return cmd, nil, 2
	}
	return cmd, vals, 0
}

// cliReporter is plain text on stdout (coloured and with progress on a terminal), or with
// --output json the JSON alone on stdout and the timeline on stderr.
func cliReporter(output string, getenv func(string) string, stdout, stderr io.Writer) deploy.Reporter {
	tty := terminal.isTTY(stdout)
	text := &report.Text{W: stdout, Color: tty && getenv("NO_COLOR") == "", Progress: tty}
	if output == "json" {
		text.W, text.Color, text.Progress = stderr, false, false
		return &report.JSON{W: stdout, Events: text}
	}
	return text
}

// loadKubeconfig finds the kubeconfig as kubectl does: --kubeconfig (a path), else every file
// of $KUBECONFIG (a list, merged; missing files are skipped), else ~/.kube/config; with none
// of those, the service account of the pod this runs in. It returns the merged kubeconfig
// as content, paths inside it made absolute. A file that is not a kubeconfig is named.
func loadKubeconfig(path string, getenv func(string) string) ([]byte, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	if path == "" {
		if env := getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
			rules.Precedence = filepath.SplitList(env)
		} else if home, err := os.UserHomeDir(); err == nil {
			rules.Precedence = []string{filepath.Join(home, ".kube", "config")}
		}
	}
	merged, err := rules.Load()
	if err != nil {
		return nil, err
	}
	if len(merged.Clusters) == 0 {
		if path != "" {
			return nil, fmt.Errorf("%s is not a kubeconfig: it has no clusters (empty, or not a kubeconfig file)", path)
		}
		if kc, err := kube.InClusterKubeconfig(getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")); err == nil {
			return kc, nil
		}
		where := "~/.kube/config"
		if env := getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
			where = "$KUBECONFIG (" + env + ")"
		}
		return nil, fmt.Errorf("none found: give --kubeconfig PATH, or set KUBECONFIG; %s has no cluster, and this is not a pod with a service account", where)
	}
	return clientcmd.Write(*merged)
}
