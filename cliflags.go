package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/shepherd-deploy/shepherd/config"
)

// command is one CLI command: its usage line and its flags, in the order a user needs them.
type command struct {
	name, usage, about string
	flags              []flagSpec
}

// flagSpec is one flag: the action input it sets ("" for a CLI-only flag), its argument's name
// ("" for a switch), a sentence of help and the default shown.
type flagSpec struct {
	name, input, arg, help, def string
	repeat                      bool
}

// The flags every command shares, last in its help.
var (
	fNamespace   = flagSpec{name: "namespace", input: config.InNamespace, arg: "NAME", help: "The namespace of the release (it must exist).", def: config.DefaultNamespace}
	fKubeconfig  = flagSpec{name: "kubeconfig", input: config.InKubeconfig, arg: "PATH", help: "The kubeconfig file (default: $KUBECONFIG's files, then ~/.kube/config, then the pod's service account)."}
	fContext     = flagSpec{name: "context", input: config.InContext, arg: "NAME", help: "The kubeconfig context to use (default: its current context)."}
	fLockTimeout = flagSpec{name: "lock-timeout", input: config.InLockTimeout, arg: "DURATION", help: "How long to wait while another run holds the release.", def: human(config.DefaultLockTimeout)}
	fTimeout     = flagSpec{name: "timeout", input: config.InTimeout, arg: "DURATION", help: "How long a rollout may take before it counts as failed; also bounds each rollback attempt.", def: human(config.DefaultTimeout)}
	fHealthURL   = flagSpec{name: "health-url", input: config.InHealthURL, arg: "URL", help: "Checked after the rollout: it must answer 2xx, and a JSON body's status must be healthy."}
	fMaxCascade  = flagSpec{name: "max-cascade", input: config.InMaxCascade, arg: "N", help: "How many older good revisions a rollback may try when its target fails verification.", def: fmt.Sprint(config.DefaultMaxCascade)}
	fOutput      = flagSpec{name: "output", arg: "FORMAT", help: "text, or json for scripts (the outcome as one JSON object on stdout).", def: "text"}
	fDebug       = flagSpec{name: "debug", help: "Print a debug log on stderr (it never shows credentials)."}
	fGrace       = flagSpec{name: "grace-period", input: config.InGrace, arg: "DURATION", help: "Blue-green: how long the new colour is watched, live, before the old one is scaled to 0.", def: human(config.DefaultGracePeriod)}
	fRelease     = flagSpec{name: "release", input: config.InRelease, arg: "NAME", help: "The Helm release name (required)."}
)

var commands = map[string]command{
	"deploy": {name: "deploy", usage: "shepherd deploy --release NAME --chart DIR|TGZ [--image-tag TAG] [flags]",
		about: "Upgrade (or install) the release, watch the rollout, and roll back to the last good revision if it fails.",
		flags: []flagSpec{
			fRelease,
			{name: "chart", input: config.InChart, arg: "DIR|TGZ", help: "A local chart directory or packaged .tgz (required)."},
			{name: "image-tag", input: config.InImageTag, arg: "TAG", help: "The image tag to deploy, set at --image-tag-key."},
			fNamespace,
			{name: "values", input: config.InValues, arg: "FILE", help: "A values file; repeat for more, merged in order.", repeat: true},
			{name: "set", input: config.InSet, arg: "KEY=VALUE", help: "A value (Helm --set syntax), applied after the files; repeat for more.", repeat: true},
			{name: "image-tag-key", input: config.InImageTagKey, arg: "PATH", help: "The values path the image tag is set at.", def: config.DefaultImageTagKey},
			fTimeout, fHealthURL,
			{name: "dry-run", input: config.InDryRun, help: "Render and diff against the live release; change nothing."},
			{name: "strategy", input: config.InStrategy, arg: "NAME", help: "How to replace the running version: rolling or blue-green.", def: string(config.DefaultStrategy)},
			{name: "auto-promote", input: config.InAutoPromote, arg: "BOOL", help: "Blue-green: switch once the checks pass; false stops before the switch for a later promote or abort.", def: "true"},
			fGrace,
			{name: "smoke-paths", input: config.InSmokePaths, arg: "PATH", help: "Blue-green: a path asked on the new colour before the switch; repeat for more (default: the readiness probe's path).", repeat: true},
			{name: "smoke-timeout", input: config.InSmokeTime, arg: "DURATION", help: "Blue-green: how long each smoke test may take to answer healthy.", def: human(config.DefaultSmokeTimeout)},
			{name: "preview-url", input: config.InPreviewURL, arg: "URL", help: "Blue-green: ask the smoke tests here instead of a port-forward to a pod."},
			fMaxCascade, fKubeconfig, fContext, fLockTimeout, fOutput, fDebug,
		}},
	"rollback": {name: "rollback", usage: "shepherd rollback --release NAME [--revision N] [--reason TEXT] [--force] [flags]",
		about: "Roll the release back to the last good revision (or --revision N), verify it, and record why. On a terminal it asks first.",
		flags: []flagSpec{
			fRelease,
			{name: "revision", input: config.InRevision, arg: "N", help: "The revision to roll back to (default: the last good one before the current)."},
			{name: "reason", input: config.InReason, arg: "TEXT", help: "Why: recorded in Helm history, a Kubernetes Event and the report."},
			{name: "force", help: "Roll back without asking (needed when not on a terminal)."},
			fNamespace,
			{name: "verify-duration", input: config.InVerify, arg: "DURATION", help: "After the rollout, how long no pod may restart or go unready.", def: human(config.DefaultVerify)},
			fTimeout, fHealthURL, fMaxCascade, fKubeconfig, fContext, fLockTimeout, fOutput, fDebug,
		}},
	"promote": {name: "promote", usage: "shepherd promote --release NAME [flags]",
		about: "Switch a blue-green deploy that stopped before its switch (auto_promote false) to live traffic, after checking it again, and watch it for the grace period.",
		flags: []flagSpec{fRelease, fNamespace, fGrace, fTimeout, fHealthURL, fKubeconfig, fContext, fLockTimeout, fOutput, fDebug}},
	"abort": {name: "abort", usage: "shepherd abort --release NAME [--reason TEXT] [flags]",
		about: "Drop a blue-green deploy that stopped before its switch: its colour goes to 0 replicas; live traffic never moved.",
		flags: []flagSpec{fRelease, {name: "reason", input: config.InReason, arg: "TEXT", help: "Why: recorded in Helm history and the report."},
			fNamespace, fKubeconfig, fContext, fLockTimeout, fOutput, fDebug}},
	"history": {name: "history", usage: "shepherd history --release NAME [flags]",
		about: "List the release's revisions: image tags, status and description.",
		flags: []flagSpec{
			fRelease,
			fNamespace, fKubeconfig, fContext, fOutput, fDebug,
		}},
}

// human writes a duration as the action's inputs do: 60s, 5m.
func human(d time.Duration) string {
	if d >= 2*time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// flagValues are what the flags set: action inputs by input name, CLI-only flags by flag name.
type flagValues struct {
	inputs, cli map[string]string
}

// flagSet declares the command's flags; --help prints its help to stdout.
func (c command) flagSet(stdout, stderr io.Writer) (*flag.FlagSet, *flagValues) {
	fs := flag.NewFlagSet("shepherd "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := &flagValues{inputs: map[string]string{}, cli: map[string]string{"output": "text"}}
	for _, f := range c.flags {
		f := f
		set := func(s string) error {
			if f.input == "" {
				vals.cli[f.name] = s
				return nil
			}
			if f.repeat && vals.inputs[f.input] != "" {
				s = vals.inputs[f.input] + "\n" + s
			}
			vals.inputs[f.input] = s
			return nil
		}
		if f.arg == "" {
			fs.BoolFunc(f.name, f.help, func(s string) error {
				if s != "true" && s != "false" {
					return fmt.Errorf("--%s takes no value (or =true/=false)", f.name)
				}
				return set(s)
			})
			continue
		}
		fs.Func(f.name, f.help, set)
	}
	fs.Usage = func() { c.help(stdout) }
	return fs, vals
}

// help prints the command's usage and its flags, in order, each with its default.
func (c command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", c.usage, c.about)
	for _, f := range c.flags {
		head := "  --" + f.name
		if f.arg != "" {
			head += " " + f.arg
		}
		text := f.help
		if f.def != "" {
			text += " (default " + f.def + ")"
		}
		fmt.Fprintf(w, "%-30s %s\n", head, text)
	}
}

// isTerminal reports whether w (or stdin) is a terminal, not a pipe, a file or /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// askStdin asks a yes/no question on the terminal; only "y" or "yes" is a yes.
func askStdin(out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
