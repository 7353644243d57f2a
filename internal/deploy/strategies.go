package deploy

import (
	"fmt"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/bluegreen"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// notesOf are the Lease notes each strategy owns: a run of another strategy clears them.
var notesOf = map[config.Strategy][]string{config.StrategyBlueGreen: bluegreen.Notes, config.StrategyCanary: canary.Notes}

// withoutOthers is notes, the notes other strategies own cleared.
func withoutOthers(notes map[string]string) map[string]string {
	out := map[string]string{}
	for s, keys := range notesOf {
		if string(s) == notes[kube.AnnotationStrategy] {
			continue
		}
		for _, k := range keys {
			out[k] = ""
		}
	}
	for k, v := range notes {
		out[k] = v
	}
	return out
}

// strategyFor returns the strategy cfg names, set up as cfg says. An unknown name is an error,
// never a fallback.
func strategyFor(cfg config.Config) (strategy.Strategy, error) {
	switch name := cfg.Strategy; name {
	case config.StrategyRolling:
		return strategy.Rolling{}, nil
	case config.StrategyBlueGreen:
		return bluegreen.Strategy{AutoPromote: cfg.AutoPromote, Grace: cfg.GracePeriod}, nil
	case config.StrategyCanary:
		return canary.Strategy{AutoPromote: cfg.AutoPromote}, nil
	}
	return nil, fmt.Errorf("strategy: %q is not a strategy Shepherd has", cfg.Strategy)
}

// canaryEnv is what the canary gets of this run: c, the engine's cluster for what a canary does
// as a rolling deploy does, and the session.
func (r *run) canaryEnv(c *cluster) canary.Env {
	return canary.Env{Cluster: c, Session: session{r: r, pf: c.pf}, Config: r.cfg, Metrics: r.metricsProvider}
}

// canaryModes is the canary's side of this run's modes, from the notes the Lease held when
// this run took it.
func (r *run) canaryModes() *canary.Modes {
	if r.canary == nil {
		r.canary = &canary.Modes{Env: r.canaryEnv(&cluster{r: r}), Previous: r.lock.Previous, Undo: r.undoContext}
	}
	return r.canary
}

// bgEnv is what blue-green gets of this run: c, the engine's cluster, and the session.
func (r *run) bgEnv(c *cluster) bluegreen.Env {
	e := bluegreen.Env{Cluster: c, Session: session{r: r, pf: c.pf}, Config: r.cfg, Confirm: r.d.Confirm, Locked: r.lock != nil}
	if r.lock != nil {
		e.Previous = r.lock.Previous
	}
	return e
}

// bgModes is blue-green's side of this run's modes, from the Lease as this run found it.
func (r *run) bgModes() *bluegreen.Modes {
	if r.bg == nil || (r.bg.Locked != (r.lock != nil)) {
		r.bg = &bluegreen.Modes{Env: r.bgEnv(&cluster{r: r}), Undo: r.undoContext, AbortAwaiting: r.abort}
	}
	return r.bg
}
