package cloudauth

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/shepherd-deploy/shepherd/kube"
)

// IDToken fetches the job's GitHub OIDC token for an audience (nil outside a runner).
type IDToken func(ctx context.Context, audience string) (string, error)

// azureFederationAudience is the audience Microsoft Entra expects of a federated credential's
// token.
const azureFederationAudience = "api://AzureADTokenExchange"

// aksJobOnly are the variables an AKS login reads from the job's environment only.
var aksJobOnly = []string{"AZURE_CLIENT_SECRET", "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
	"AZURE_AUTHORITY_HOST", "AZURE_CLIENT_CERTIFICATE_PATH", "AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE"}

// AKS makes tokens as `kubelogin get-token` does in its login modes that need no browser and
// no az CLI, through Microsoft's azidentity: workloadidentity — a federated token, from
// AZURE_FEDERATED_TOKEN_FILE or else the job's own GitHub OIDC token (audience
// api://AzureADTokenExchange) — and spn, a service principal's secret
// (AAD_SERVICE_PRINCIPAL_CLIENT_SECRET or AZURE_CLIENT_SECRET), all from the job's
// environment. The server id, client and tenant come from the plugin's arguments, else from
// AZURE_CLIENT_ID and AZURE_TENANT_ID. Tokens go to the Microsoft Entra authority of the
// plugin's --environment, or to AZURE_AUTHORITY_HOST of the job's environment (or the
// plugin's --authority-host) when it is one of Microsoft's published authority hosts or
// allow lists it.
func AKS(env Env, idToken IDToken, allow Endpoints) func(p kube.Plugin) (kube.TokenFunc, string, error) {
	return func(p kube.Plugin) (kube.TokenFunc, string, error) {
		if p.Arg("--federated-token-file") != "" || p.Arg("--client-secret") != "" {
			return nil, "", fmt.Errorf("the kubeconfig's kubelogin arguments name a token file or a secret (--federated-token-file, --client-secret): a kubeconfig chooses a cluster and a role, not credentials — Shepherd takes AZURE_FEDERATED_TOKEN_FILE and the secret from the job's environment only")
		}
		get, err := execEnv(p, env, aksJobOnly, []string{"AAD_LOGIN_METHOD", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AAD_SERVICE_PRINCIPAL_CLIENT_ID"})
		if err != nil {
			return nil, "", err
		}
		login := first(p.Arg("--login", "-l"), get("AAD_LOGIN_METHOD"), "devicecode")
		server := p.Arg("--server-id")
		tenant := first(p.Arg("--tenant-id", "-t"), get("AZURE_TENANT_ID"))
		client := first(p.Arg("--client-id"), get("AZURE_CLIENT_ID"), get("AAD_SERVICE_PRINCIPAL_CLIENT_ID"))
		if server == "" || tenant == "" || client == "" {
			return nil, "", fmt.Errorf("kubelogin needs --server-id, and a client and tenant id (--client-id/--tenant-id, or AZURE_CLIENT_ID/AZURE_TENANT_ID)")
		}
		opts, custom, err := azureOptions(p, get, allow)
		if err != nil {
			return nil, "", err
		}
		cred, how, err := azureCredential(login, tenant, client, get, idToken, opts, custom)
		if err != nil {
			return nil, "", err
		}
		fetch := func(ctx context.Context) (string, error) {
			t, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{server + "/.default"}})
			if err != nil {
				return "", fmt.Errorf("a Microsoft Entra token for %s: %v", server, err)
			}
			return t.Token, nil
		}
		return fetch, fmt.Sprintf("Azure client %s in tenant %s (%s)", client, tenant, how), nil
	}
}

// azureCredential is the login mode's credential, and how it logs in as a person reads it.
func azureCredential(login, tenant, client string, get Env, idToken IDToken, opts azcore.ClientOptions, custom bool) (azcore.TokenCredential, string, error) {
	switch login {
	case "workloadidentity":
		assertion, from, err := federatedToken(get, idToken)
		if err != nil {
			return nil, "", err
		}
		cred, err := azidentity.NewClientAssertionCredential(tenant, client, assertion,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: custom})
		return cred, "workload identity, " + from, err
	case "spn":
		secret := first(get("AAD_SERVICE_PRINCIPAL_CLIENT_SECRET"), get("AZURE_CLIENT_SECRET"))
		if secret == "" {
			return nil, "", fmt.Errorf("kubelogin --login spn: no AAD_SERVICE_PRINCIPAL_CLIENT_SECRET or AZURE_CLIENT_SECRET in the job's environment")
		}
		cred, err := azidentity.NewClientSecretCredential(tenant, client, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: custom})
		return cred, "service principal secret", err
	}
	return nil, "", fmt.Errorf("kubelogin --login %s needs a browser or the az CLI, which a job's container does not have: convert the kubeconfig with `kubelogin convert-kubeconfig -l workloadidentity` (the job's GitHub OIDC token, federated) or `-l spn`", login)
}

// federatedToken is workload identity's assertion: the token file's content when
// AZURE_FEDERATED_TOKEN_FILE is set, else the job's GitHub OIDC token.
func federatedToken(get Env, idToken IDToken) (func(context.Context) (string, error), string, error) {
	if file := get("AZURE_FEDERATED_TOKEN_FILE"); file != "" {
		return func(context.Context) (string, error) {
			b, err := os.ReadFile(file)
			return strings.TrimSpace(string(b)), err
		}, "token file", nil
	}
	if idToken == nil {
		return nil, "", fmt.Errorf("kubelogin --login workloadidentity: no AZURE_FEDERATED_TOKEN_FILE, and no GitHub OIDC token to federate (the workflow needs `permissions: id-token: write`)")
	}
	return func(ctx context.Context) (string, error) { return idToken(ctx, azureFederationAudience) }, "the job's GitHub OIDC token", nil
}

// azureOptions are the client options of the plugin's --environment, with the authority host
// AZURE_AUTHORITY_HOST (the job's) or --authority-host (the kubeconfig's) names, checked; and
// whether that host is not Microsoft's (instance discovery, Microsoft's check of the
// authority, is then off).
func azureOptions(p kube.Plugin, get Env, allow Endpoints) (azcore.ClientOptions, bool, error) {
	opts := azcore.ClientOptions{Cloud: azureCloud(p.Arg("--environment", "-e"))}
	field, host := "the kubeconfig's kubelogin --authority-host", p.Arg("--authority-host")
	if job := get("AZURE_AUTHORITY_HOST"); job != "" {
		field, host = "AZURE_AUTHORITY_HOST (the job's environment)", job
	}
	if host == "" {
		return opts, false, nil
	}
	u, err := allow.checkEndpoint(field, host, "Microsoft Entra ID", microsoftHost)
	if err != nil {
		return opts, false, err
	}
	opts.Cloud.ActiveDirectoryAuthorityHost = u.String()
	return opts, !microsoftHost(strings.ToLower(u.Hostname())), nil
}

// azureCloud is kubelogin's --environment as azcore names clouds.
func azureCloud(environment string) cloud.Configuration {
	switch strings.ToLower(environment) {
	case "azurechinacloud":
		return cloud.AzureChina
	case "azureusgovernmentcloud", "azureusgovernment":
		return cloud.AzureGovernment
	}
	return cloud.AzurePublic
}
