// Package cloudauth makes cluster tokens in process for the exec credential plugins that
// managed clusters' kubeconfigs name and that Shepherd's container image cannot run (it
// carries no cloud CLIs), each through its vendor's own Go library, from the credentials the
// vendor's GitHub action leaves in the job's environment. A kubeconfig chooses a cluster and
// a role, never where credentials go: credentials, token files and endpoints come from the
// job's environment only, and credentials are sent only to the cloud's own endpoints or to
// one the workflow lists (Endpoints).
package cloudauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shepherd-deploy/shepherd/kube"
)

// Env looks up one variable of the job's environment (the edge passes the process's).
type Env func(name string) string

// awsJobOnly are the variables an EKS login reads from the job's environment only.
var awsJobOnly = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL*", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE"}

// awsRegion is an AWS region's name (eu-west-1, us-gov-west-1, cn-north-1, us-isob-east-1).
var awsRegion = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)

// awsHTTP is the HTTP client of the STS exchanges (nil: the SDK's; a test's trusts its
// stand-in).
var awsHTTP sts.HTTPClient

// eksClusterHeader is the header that binds an EKS token to its cluster.
const eksClusterHeader = "x-k8s-aws-id"

// EKS makes tokens as `aws eks get-token` and `aws-iam-authenticator token` do — "k8s-aws-v1."
// and the base64url of a presigned STS GetCallerIdentity URL of the region's STS endpoint,
// with the cluster's name signed in (x-k8s-aws-id) and valid 60 seconds — for the cluster
// and region the plugin names, from the AWS credentials that
// aws-actions/configure-aws-credentials exports into the job's environment: access keys
// (with a session token), or a web identity token file with AWS_ROLE_ARN. A --role-arn
// argument is assumed first, as the CLI does. Presigning needs no network; a web identity
// or a role is exchanged at the region's STS, or at AWS_ENDPOINT_URL_STS of the job's
// environment when it is in the region's partition or listed in allow.
func EKS(env Env, allow Endpoints) func(p kube.Plugin) (kube.TokenFunc, string, error) {
	return func(p kube.Plugin) (kube.TokenFunc, string, error) {
		get, err := execEnv(p, env, awsJobOnly, []string{"AWS_REGION", "AWS_DEFAULT_REGION"})
		if err != nil {
			return nil, "", err
		}
		cluster := p.Arg("--cluster-name", "--cluster-id", "-i")
		if cluster == "" {
			return nil, "", fmt.Errorf("no --cluster-name (or aws-iam-authenticator's -i) in the plugin's arguments")
		}
		region := first(p.Arg("--region"), get("AWS_REGION"), get("AWS_DEFAULT_REGION"))
		if region == "" {
			return nil, "", fmt.Errorf("no AWS region: the plugin has no --region and AWS_REGION is not set (aws-actions/configure-aws-credentials sets it)")
		}
		if !awsRegion.MatchString(region) {
			return nil, "", fmt.Errorf("AWS region %q (the plugin's --region or AWS_REGION) is not a region's name, e.g. eu-west-1", region)
		}
		exchange, err := stsEndpoint(get, region, allow)
		if err != nil {
			return nil, "", err
		}
		creds, who, err := awsCredentials(get, region, exchange)
		if err != nil {
			return nil, "", err
		}
		if role := p.Arg("--role-arn", "-r"); role != "" {
			who += ", assuming " + role
			client := sts.New(sts.Options{Region: region, Credentials: creds, BaseEndpoint: exchange, HTTPClient: awsHTTP})
			creds = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, role, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "shepherd"
			}))
		}
		presign := sts.NewPresignClient(sts.New(sts.Options{Region: region, Credentials: creds}))
		fetch := func(ctx context.Context) (string, error) {
			req, err := presign.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
				o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
					o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue(eksClusterHeader, cluster),
						smithyhttp.SetHeaderValue("X-Amz-Expires", "60"))
				})
			})
			if err != nil {
				return "", fmt.Errorf("EKS token for cluster %s: %v", cluster, err)
			}
			return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(req.URL)), nil
		}
		return fetch, fmt.Sprintf("EKS cluster %s in %s, %s", cluster, region, who), nil
	}
}

// stsEndpoint is where a web identity or a role is exchanged: nil for the region's own STS
// endpoint, else AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL) of the job's environment, when its
// host is in the region's partition's domains (as the SDK's partition metadata names them)
// or the workflow lists it.
func stsEndpoint(get Env, region string, allow Endpoints) (*string, error) {
	field, raw := "AWS_ENDPOINT_URL_STS", get("AWS_ENDPOINT_URL_STS")
	if raw == "" {
		field, raw = "AWS_ENDPOINT_URL", get("AWS_ENDPOINT_URL")
	}
	if raw == "" {
		return nil, nil
	}
	var domains []string
	for _, dual := range []bool{false, true} {
		ep, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(),
			sts.EndpointParameters{Region: aws.String(region), UseDualStack: aws.Bool(dual), UseGlobalEndpoint: aws.Bool(false)})
		if err != nil {
			return nil, fmt.Errorf("AWS region %s: %v", region, err)
		}
		// sts.<region>.<the partition's domain>
		domains = append(domains, strings.TrimPrefix(ep.URI.Hostname(), "sts."+region+"."))
	}
	own := func(host string) bool { return hostUnder(host, domains[0]) || hostUnder(host, domains[1]) }
	u, err := allow.checkEndpoint(field+" (the job's environment)", raw, "AWS STS in "+region, own)
	if err != nil {
		return nil, err
	}
	return aws.String(u.String()), nil
}

// awsCredentials are the job's AWS credentials, and who they are as a person reads it (the
// access key id, never the secret).
func awsCredentials(get Env, region string, exchange *string) (aws.CredentialsProvider, string, error) {
	if id, secret := get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, get("AWS_SESSION_TOKEN")), "AWS access key " + id, nil
	}
	if file, role := get("AWS_WEB_IDENTITY_TOKEN_FILE"), get("AWS_ROLE_ARN"); file != "" && role != "" {
		client := sts.New(sts.Options{Region: region, BaseEndpoint: exchange, HTTPClient: awsHTTP})
		name := first(get("AWS_ROLE_SESSION_NAME"), "shepherd")
		p := stscreds.NewWebIdentityRoleProvider(client, role, stscreds.IdentityTokenFile(file), func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = name
		})
		return aws.NewCredentialsCache(p), "AWS role " + role + " (web identity)", nil
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
