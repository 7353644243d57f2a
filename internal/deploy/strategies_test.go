package deploy

import (
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/strategy/bluegreen"
)

func TestStrategyFor(t *testing.T) {
	for _, name := range []config.Strategy{config.StrategyRolling, config.StrategyBlueGreen} {
		cfg := config.Default()
		cfg.Strategy = name
		if s, err := (&run{cfg: cfg}).strategyFor(); err != nil || s.Name() != name {
			t.Errorf("strategyFor(%s) = %v, %v", name, s, err)
		}
	}
	cfg := config.Default()
	cfg.Strategy, cfg.AutoPromote, cfg.GracePeriod = config.StrategyBlueGreen, false, time.Minute
	if s, _ := (&run{cfg: cfg}).strategyFor(); s != (bluegreen.Strategy{AutoPromote: false, Grace: time.Minute}) {
		t.Errorf("strategyFor(blue-green) = %+v: want auto_promote and grace_period from the config", s)
	}
	cfg.Strategy = "blue-grean"
	if s, err := (&run{cfg: cfg}).strategyFor(); err == nil || s != nil {
		t.Errorf("strategyFor(an unknown name) = %v, %v: want an error, never a fallback", s, err)
	}
}
