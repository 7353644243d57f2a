package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The GitHub-native reporting inputs: the Deployments API (a token and an environment) and a
// Slack incoming webhook.
const (
	InGitHubToken    = "github_token"
	InEnvironment    = "environment"
	InEnvironmentURL = "environment_url"
	InSlackWebhook   = "slack_webhook_url"
	InProductionEnv  = "production_environment"
	InTransientEnv   = "transient_environment"
)

// DefaultGitHubToken is action.yml's default for github_token: the job's own token.
const DefaultGitHubToken = "${{ github.token }}"

// Notify is where a run's outcome is reported beyond the job itself.
type Notify struct {
	// GitHubToken authenticates the Deployments API. Secret: never print it.
	GitHubToken string `json:"-"`
	// Environment is the GitHub environment deployments are recorded in ("": none recorded).
	Environment string
	// EnvironmentURL is where the environment is reached (shown on the deployment).
	EnvironmentURL string
	// Production and Transient are the deployment's production_environment and
	// transient_environment; nil: Production when the environment's name starts with "prod",
	// Transient never.
	Production, Transient *bool
	// SlackWebhookURL receives one message per run. Secret: never print it.
	SlackWebhookURL string `json:"-"`
}

// IsProduction is the deployment's production_environment.
func (n Notify) IsProduction() bool {
	if n.Production != nil {
		return *n.Production
	}
	return strings.HasPrefix(strings.ToLower(n.Environment), "prod")
}

// IsTransient is the deployment's transient_environment.
func (n Notify) IsTransient() bool { return n.Transient != nil && *n.Transient }

// notifyInputs reads the reporting inputs.
func (c *Config) notifyInputs(get func(string) string) []error {
	var errs []error
	c.Notify.GitHubToken = strings.TrimSpace(get(InGitHubToken))
	c.Notify.Environment = strings.TrimSpace(get(InEnvironment))
	c.Notify.EnvironmentURL = strings.TrimSpace(get(InEnvironmentURL))
	c.Notify.SlackWebhookURL = strings.TrimSpace(get(InSlackWebhook))
	for name, dst := range map[string]**bool{InProductionEnv: &c.Notify.Production, InTransientEnv: &c.Notify.Transient} {
		if v := strings.TrimSpace(get(name)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a boolean (use true or false, or leave it empty)", name, v))
				continue
			}
			*dst = &b
		}
	}
	return errs
}

// validateNotify checks the reporting inputs; the webhook URL is never quoted (it is a secret).
func (c Config) validateNotify() []error {
	var errs []error
	if v := c.Notify.EnvironmentURL; v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an http(s) URL", InEnvironmentURL, v))
		}
	}
	if v := c.Notify.SlackWebhookURL; v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: not an http(s) URL (a Slack incoming webhook, https://hooks.slack.com/services/…)", InSlackWebhook))
		}
	}
	if c.Notify.Environment != "" && len(c.Notify.Environment) > 255 {
		errs = append(errs, fmt.Errorf("%s: at most 255 characters", InEnvironment))
	}
	return errs
}
