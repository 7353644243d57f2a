package sdk_test

import (
	"context"
	"fmt"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/sdk"
)

// A Config that cannot work is refused before anything in the cluster is touched: the outcome
// names every bad setting and what is allowed.
func ExampleRun_invalid() {
	cfg := config.Default()
	cfg.Release, cfg.Chart, cfg.Strategy = "web", "./chart", "big-bang"
	cfg.Stages = []int{50, 25}
	out := sdk.Run(context.Background(), cfg, sdk.Options{})
	fmt.Println(out.Status)
	fmt.Println(out.Message)
	// Output:
	// failed
	// invalid configuration: strategy: "big-bang" is not supported (allowed: rolling, blue-green, canary); stages: stage 2 (25%) is not above stage 1 (50%): stages must increase
}
