// Package cloudauth makes cluster tokens in process for the exec credential plugins that
// managed clusters' kubeconfigs name and that Shepherd's container image cannot run (it
// carries no cloud CLIs), each through its vendor's own Go library, from the credentials the
// vendor's GitHub action leaves in the job's environment.
package cloudauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/credentials/stscreds"
	"github.com/aws/aws-sdk-go/aws/endpoints"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/sts"
	"sigs.k8s.io/aws-iam-authenticator/pkg/token"

	"github.com/shepherd-deploy/shepherd/kube"
)

// Env looks up one variable of the job's environment (the edge passes the process's; a
// plugin's own env entries come first).
type Env func(name string) string

func lookup(p kube.Plugin, env Env) Env {
	return func(name string) string {
		if v, ok := p.Env[name]; ok {
			return v
		}
		if env == nil {
			return ""
		}
		return env(name)
	}
}

// EKS makes tokens as `aws eks get-token` and `aws-iam-authenticator token` do — the
// presigned STS GetCallerIdentity URL of aws-iam-authenticator's token generator — for the
// cluster and region the plugin's arguments name, from the AWS credentials that
// aws-actions/configure-aws-credentials exports: access keys (with a session token), or a web
// identity token file with AWS_ROLE_ARN. A --role-arn argument is assumed first, as the CLI
// does. Presigning needs no network; a web identity is exchanged at STS
// (AWS_ENDPOINT_URL_STS, when set, names another endpoint).
func EKS(env Env) func(p kube.Plugin) (kube.TokenFunc, string, error) {
	return func(p kube.Plugin) (kube.TokenFunc, string, error) {
		get := lookup(p, env)
		cluster := p.Arg("--cluster-name", "--cluster-id", "-i")
		if cluster == "" {
			return nil, "", fmt.Errorf("no --cluster-name (or aws-iam-authenticator's -i) in the plugin's arguments")
		}
		region := first(p.Arg("--region"), get("AWS_REGION"), get("AWS_DEFAULT_REGION"))
		if region == "" {
			return nil, "", fmt.Errorf("no AWS region: the plugin has no --region and AWS_REGION is not set (aws-actions/configure-aws-credentials sets it)")
		}
		creds, who, err := awsCredentials(get, region)
		if err != nil {
			return nil, "", err
		}
		sess, err := session.NewSessionWithOptions(session.Options{SharedConfigState: session.SharedConfigDisable,
			Config: aws.Config{Region: aws.String(region), Credentials: creds, STSRegionalEndpoint: endpoints.RegionalSTSEndpoint}})
		if err != nil {
			return nil, "", err
		}
		role := p.Arg("--role-arn", "-r")
		if role != "" {
			who += ", assuming " + role
		}
		gen, err := token.NewGenerator(false, false)
		if err != nil {
			return nil, "", err
		}
		fetch := func(context.Context) (string, error) {
			t, err := gen.GetWithOptions(&token.GetTokenOptions{ClusterID: cluster, Region: region, Session: sess, AssumeRoleARN: role})
			if err != nil {
				return "", fmt.Errorf("EKS token for cluster %s: %v", cluster, err)
			}
			return t.Token, nil
		}
		return fetch, fmt.Sprintf("EKS cluster %s in %s, %s", cluster, region, who), nil
	}
}

// awsCredentials are the job's AWS credentials, and who they are as a person reads it (the
// access key id, never the secret).
func awsCredentials(get Env, region string) (*credentials.Credentials, string, error) {
	if id, secret := get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return credentials.NewStaticCredentials(id, secret, get("AWS_SESSION_TOKEN")), "AWS access key " + id, nil
	}
	if file, role := get("AWS_WEB_IDENTITY_TOKEN_FILE"), get("AWS_ROLE_ARN"); file != "" && role != "" {
		cfg := aws.Config{Region: aws.String(region), Credentials: credentials.AnonymousCredentials, STSRegionalEndpoint: endpoints.RegionalSTSEndpoint}
		if ep := first(get("AWS_ENDPOINT_URL_STS"), get("AWS_ENDPOINT_URL")); ep != "" {
			cfg.Endpoint = aws.String(ep)
		}
		sess, err := session.NewSessionWithOptions(session.Options{SharedConfigState: session.SharedConfigDisable, Config: cfg})
		if err != nil {
			return nil, "", err
		}
		name := first(get("AWS_ROLE_SESSION_NAME"), "shepherd")
		p := stscreds.NewWebIdentityRoleProviderWithOptions(sts.New(sess), role, name, stscreds.FetchTokenPath(file))
		return credentials.NewCredentials(p), "AWS role " + role + " (web identity)", nil
	}
	return nil, "", errors.New("no AWS credentials in the job's environment: run aws-actions/configure-aws-credentials before this step (it exports AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN), or set AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN")
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
