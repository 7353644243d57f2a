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

// AKS makes tokens as `kubelogin get-token` does in its login modes that need no browser and
// no az CLI, through Microsoft's azidentity: workloadidentity — a federated token, from
// AZURE_FEDERATED_TOKEN_FILE or else the job's own GitHub OIDC token (audience
// api://AzureADTokenExchange) — and spn, a service principal's secret
// (AAD_SERVICE_PRINCIPAL_CLIENT_SECRET or AZURE_CLIENT_SECRET). The server id, client and
// tenant come from the plugin's arguments, else from AZURE_CLIENT_ID and AZURE_TENANT_ID.
func AKS(env Env, idToken IDToken) func(p kube.Plugin) (kube.TokenFunc, string, error) {
	return func(p kube.Plugin) (kube.TokenFunc, string, error) {
		get := lookup(p, env)
		login := first(p.Arg("--login", "-l"), get("AAD_LOGIN_METHOD"), "devicecode")
		server := p.Arg("--server-id")
		tenant := first(p.Arg("--tenant-id", "-t"), get("AZURE_TENANT_ID"))
		client := first(p.Arg("--client-id"), get("AZURE_CLIENT_ID"), get("AAD_SERVICE_PRINCIPAL_CLIENT_ID"))
		if server == "" || tenant == "" || client == "" {
			return nil, "", fmt.Errorf("kubelogin needs --server-id, and a client and tenant id (--client-id/--tenant-id, or AZURE_CLIENT_ID/AZURE_TENANT_ID)")
		}
		opts := azcore.ClientOptions{Cloud: azureCloud(p.Arg("--environment", "-e"))}
		custom := first(p.Arg("--authority-host"), get("AZURE_AUTHORITY_HOST"))
		if custom != "" {
			opts.Cloud.ActiveDirectoryAuthorityHost = custom
		}
		var cred azcore.TokenCredential
		var err error
		how := ""
		switch login {
		case "workloadidentity":
			assertion, from, aerr := federatedToken(get, idToken)
			if aerr != nil {
				return nil, "", aerr
			}
			how = "workload identity, " + from
			cred, err = azidentity.NewClientAssertionCredential(tenant, client, assertion,
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: custom != ""})
		case "spn":
			secret := first(get("AAD_SERVICE_PRINCIPAL_CLIENT_SECRET"), get("AZURE_CLIENT_SECRET"))
			if secret == "" {
				return nil, "", fmt.Errorf("kubelogin --login spn: no AAD_SERVICE_PRINCIPAL_CLIENT_SECRET or AZURE_CLIENT_SECRET in the job's environment")
			}
			how = "service principal secret"
			cred, err = azidentity.NewClientSecretCredential(tenant, client, secret,
				&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: custom != ""})
		default:
			return nil, "", fmt.Errorf("kubelogin --login %s needs a browser or the az CLI, which a job's container does not have: convert the kubeconfig with `kubelogin convert-kubeconfig -l workloadidentity` (the job's GitHub OIDC token, federated) or `-l spn`", login)
		}
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
