package canary

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// routing is how a canary's traffic is weighted: by replicas (route ""), or on an HTTPRoute.
type routing struct {
	route string
	// fixed is canary_replicas (0: ceil(N × weight)).
	fixed int
	// header and value: the preview rule's match ("": none).
	header, value string
}

// routingOf is the routing cfg asks for.
func routingOf(cfg config.Config) routing {
	if !cfg.GatewayAPI() {
		return routing{}
	}
	return routing{route: cfg.HTTPRoute, fixed: cfg.CanaryReplicas, header: cfg.PreviewHeader, value: cfg.PreviewValue}
}

// routingFrom is the routing a run recorded in the lock's notes.
func routingFrom(notes map[string]string) routing {
	rt := routing{route: notes[strategy.NoteRoute]}
	rt.fixed, _ = strconv.Atoi(notes[NoteCanaryScale])
	if name, value, ok := strings.Cut(notes[NotePreview], ":"); ok {
		rt.header, rt.value = strings.TrimSpace(name), strings.TrimSpace(value)
	}
	return rt
}

// planRoute checks a gateway-api canary's route before any write and reads what its Services'
// track twins select by: the Services the route's owner sends to, and each stable
// Deployment's pod-template-hash now.
func (c *Cluster) planRoute(ctx context.Context, p *Plan) error {
	if !c.cfg.GatewayAPI() {
		return nil
	}
	spec, err := c.routes().Check(ctx, c.cfg.HTTPRoute)
	if err != nil {
		return err
	}
	p.route, p.sends, p.hashes = c.cfg.HTTPRoute, route.Sends(spec), map[string]string{}
	for _, name := range p.layout.Names() {
		if p.hashes[name], err = c.podTemplateHash(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// podTemplateHash is the pod-template-hash of Deployment name's current ReplicaSet ("": none yet).
func (c *Cluster) podTemplateHash(ctx context.Context, name string) (string, error) {
	apps := c.typed().AppsV1()
	d, err := apps.Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("read Deployment %s: %w", name, kube.Explain(err))
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return "", fmt.Errorf("the selector of Deployment %s: %w", name, err)
	}
	rss, err := apps.ReplicaSets(c.ns()).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", fmt.Errorf("list the ReplicaSets of %s: %w", name, kube.Explain(err))
	}
	const revision = "deployment.kubernetes.io/revision"
	for _, rs := range rss.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Annotations[revision] == d.Annotations[revision] {
			return rs.Labels[PodTemplateHash], nil
		}
	}
	return "", nil
}
