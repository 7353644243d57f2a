package testcluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TokenKubeconfig makes a ServiceAccount in ns bound to role there and returns a kubeconfig
// holding a real token for it (an hour): the credentials of a deployer with only those rights.
func (c *Cluster) TokenKubeconfig(t testing.TB, ns string, role rbacv1.RoleRef) []byte {
	t.Helper()
	ctx := context.Background()
	sa, err := c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{GenerateName: "deployer-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: sa.Name},
		RoleRef:  role,
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns}}}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %[5]s
  user:
    token: %[3]s
contexts:
- name: test
  context: {cluster: test, user: %[5]s, namespace: %[4]s}
current-context: test
`, c.Config.Host, base64.StdEncoding.EncodeToString(c.Config.CAData), tr.Status.Token, ns, sa.Name))
}
