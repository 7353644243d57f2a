package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/deploy"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/report"
)

const usage = `shepherd — zero-downtime Kubernetes deploys that roll themselves back

usage:
  shepherd deploy --release NAME --chart DIR|TGZ [--image-tag TAG] [flags]
  shepherd rollback --release NAME [--revision N] --reason TEXT [flags]
  shepherd history --release NAME [flags]

deploy flags (the action's inputs, with dashes):
`

// runCLI is the command line: the same engine as the action, flags instead of inputs, plain text.
func runCLI(ctx, abort context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		newFlags(stdout, map[string]*string{}).PrintDefaults()
		return 0
	}
	switch args[0] {
	case "demo":
		fmt.Fprintln(stderr, "shepherd: the demo is not part of the release binary (it needs the local test cluster): run `make demo` in a Shepherd checkout")
		return 2
	case "deploy", "rollback", "history":
	default:
		fmt.Fprintf(stderr, "shepherd: unknown command %q (want deploy, rollback or history)\n", args[0])
		return 2
	}
	vals := map[string]*string{}
	fs := newFlags(stderr, vals)
	debug := fs.Bool("debug", false, "debug log on stderr (never prints credentials)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	kc, err := loadKubeconfig(*vals[config.InKubeconfig], getenv)
	if err != nil {
		fmt.Fprintf(stderr, "shepherd: kubeconfig: %v\n", err)
		return 1
	}
	get := func(name string) string {
		switch name {
		case config.InKubeconfig:
			return string(kc)
		case config.InMode:
			return args[0]
		}
		if v, ok := vals[name]; ok {
			return *v
		}
		return ""
	}
	cfg, err := config.FromInputs(get)
	if err != nil {
		fmt.Fprintf(stderr, "shepherd: invalid input:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 1
	}
	host, _ := os.Hostname()
	cfg.Owner = fmt.Sprintf("cli:%s:%d", host, os.Getpid())
	rep := &report.Text{W: stdout}
	o := deploy.Execute(ctx, cfg, deploy.Edge{Reporter: rep, Log: debugLogger(stderr, *debug), Abort: abort})
	_ = rep.Finish(ctx, o)
	return o.ExitCode()
}

// loadKubeconfig finds the kubeconfig as kubectl does: --kubeconfig (a path), else every file
// of $KUBECONFIG (a list, merged; missing files are skipped), else ~/.kube/config; with none
// of those, the service account of the pod this runs in. It returns the merged kubeconfig
// as content, paths inside it made absolute.
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

// newFlags declares one string flag per action input (image_tag → --image-tag). Multi-line
// inputs (values, set) take their lines separated by newlines or repeated flags.
func newFlags(out io.Writer, vals map[string]*string) *flag.FlagSet {
	fs := flag.NewFlagSet("shepherd", flag.ContinueOnError)
	fs.SetOutput(out)
	for _, in := range config.Inputs {
		if in == config.InMode {
			continue // the command is the mode
		}
		name := strings.ReplaceAll(in, "_", "-")
		v := new(string)
		vals[in] = v
		help := "action input " + in
		switch in {
		case config.InKubeconfig:
			help = "kubeconfig file path (default $KUBECONFIG, then ~/.kube/config)"
		case config.InValues, config.InSet:
			fs.Func(name, help+" (repeatable)", func(s string) error {
				*v = strings.TrimPrefix(*v+"\n"+s, "\n")
				return nil
			})
			continue
		}
		fs.StringVar(v, name, "", help)
	}
	return fs
}
