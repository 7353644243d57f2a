package bluegreen

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// The pure half of blue-green: which colour is next, what a release's manifest holds, and how
// a chart's rendered manifest becomes a colour's, for a Helm post-renderer. Any chart works
// unchanged; names the chart gives stay, except its Deployments, which become <name>-<colour>.

// The colours, and the label every pod of a colour carries.
const (
	Blue       strategy.Color = "blue"
	Green      strategy.Color = "green"
	ColorLabel                = "shepherd.io/color"
)

// Next is the colour to deploy when active serves: the other one (blue on a first install).
func Next(active strategy.Color) strategy.Color {
	if active == Blue {
		return Green
	}
	return Blue
}

// PreviewSuffix names the Service that selects the new (idle) colour: <service>-preview.
const PreviewSuffix = "-preview"

// NoColor is what a Service selects before the first switch: no pod carries it, so a first
// install takes no traffic before its checks pass, like every later version.
const NoColor strategy.Color = "none"

// Colorize turns the chart's rendered manifest into what Helm applies for a blue-green deploy
// of colour next while active serves ("" when nothing does yet):
//
//   - each apps/v1 Deployment becomes <name>-<next>, its selector, template and labels gaining
//     shepherd.io/color: next;
//   - kept (the active colour's Deployment documents, as the previous revision applied them)
//     stays as it is, so Helm keeps the serving colour;
//   - each Service with a selector selects the active colour (NoColor when none is active:
//     the switch moves it), and gains a twin <name>-preview that selects next;
//   - the new colour starts at N, what runs (rewrite.StartCount): where an HPA scales a Deployment, or
//     the chart leaves spec.replicas out, at live[name], the serving colour's live count;
//   - each HPA that scales a chart Deployment scales the serving colour's (the new colour's on
//     a first install: it serves after the first switch); the switch moves it;
//   - the ConfigMaps and Secrets the chart renders and a Deployment's pods read are copied as
//     <name>-<next> for the new colour, its references rewritten; kept holds the serving
//     colour's copies as applied, so its pods never read the new version's config;
//   - everything else is left as the chart rendered it.
//
// Worked example: a chart of Deployment web and Service web, green active: the output holds
// web-blue (the new version, shepherd.io/color: blue), web-green (kept), Service web selecting
// green and Service web-preview selecting blue.
func Colorize(rendered string, next, active strategy.Color, kept []string, live map[string]int) (string, error) {
	if next == active {
		return "", fmt.Errorf("blue-green: the next colour %q is the one that serves", next)
	}
	resources, err := release.SplitManifest(rendered)
	if err != nil {
		return "", err
	}
	hpas, err := rewrite.ReadHPAs(rendered)
	if err != nil {
		return "", err
	}
	serving, scaled := active, active
	if serving == "" {
		serving, scaled = NoColor, next
	}
	cfgs := rewrite.RenderedConfig(resources)
	versioned := map[string]bool{}
	var docs []string
	for _, r := range resources {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return "", fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		switch {
		case r.Kind == "Deployment" && strings.HasPrefix(r.APIVersion, "apps/"):
			var hpa *rewrite.HPA
			if h, ok := hpas[r.Name]; ok {
				hpa = &h
			}
			if n := rewrite.StartCount(rewrite.HasReplicas(obj), hpa, live[r.Name]); n >= 0 {
				rewrite.SetReplicas(obj, n)
			}
			for _, k := range rewrite.VersionConfig(obj, rewrite.Keys(cfgs), "-"+string(next)) {
				versioned[k] = true
			}
			colorDeployment(obj, next)
			docs = append(docs, rewrite.Encode(obj))
		case r.Kind == "HorizontalPodAutoscaler" && strings.HasPrefix(r.APIVersion, "autoscaling/") && scalesDeployment(obj, resources):
			rewrite.RetargetHPA(obj, hpaTarget(obj)+"-"+string(scaled))
			docs = append(docs, rewrite.Encode(obj))
		case r.Kind == "Service" && r.APIVersion == "v1" && rewrite.HasSelector(obj):
			rewrite.SetPath(obj, []string{"spec", "selector", ColorLabel}, string(serving))
			docs = append(docs, rewrite.Encode(obj))
			docs = append(docs, rewrite.Encode(preview(obj, next)))
		default:
			docs = append(docs, r.Raw)
		}
	}
	for _, k := range rewrite.SortedKeys(versioned) {
		c, err := rewrite.ConfigCopy(cfgs[k], "-"+string(next), ColorLabel, string(next))
		if err != nil {
			return "", fmt.Errorf("%s: %w", k, err)
		}
		docs = append(docs, c)
	}
	docs = append(docs, kept...)
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", nil
}

// colorDeployment renames a Deployment to <name>-<c> and puts the colour on its labels,
// selector and pod template.
func colorDeployment(obj map[string]any, c strategy.Color) {
	meta, _ := obj["metadata"].(map[string]any)
	meta["name"] = fmt.Sprint(meta["name"]) + "-" + string(c)
	rewrite.SetPath(obj, []string{"metadata", "labels", ColorLabel}, string(c))
	rewrite.SetPath(obj, []string{"spec", "selector", "matchLabels", ColorLabel}, string(c))
	rewrite.SetPath(obj, []string{"spec", "template", "metadata", "labels", ColorLabel}, string(c))
}

// preview is a ClusterIP twin of a Service, named <name>-preview, selecting colour c.
func preview(svc map[string]any, c strategy.Color) map[string]any {
	p := rewrite.TwinService(svc, PreviewSuffix)
	p["spec"].(map[string]any)["selector"].(map[string]any)[ColorLabel] = string(c)
	return p
}

// Layout is what a release's manifest holds, as blue-green sees it.
type Layout struct {
	// Colored are each colour's Deployment documents, as applied, by colour.
	Colored map[strategy.Color][]string
	// Deployments are the colour's Deployment names, by colour.
	Deployments map[strategy.Color][]string
	// Plain names the Deployments without a colour (a release deployed by another strategy).
	Plain []string
	// Uncolorable names the StatefulSets and DaemonSets: blue-green cannot run two of them.
	Uncolorable []string
	// Services names the Services with a selector, previews excluded: the ones a switch moves.
	Services []string
	// HPAs are the HPAs that scale a colour's Deployment, by name, with the chart's name of
	// that Deployment (the switch points them at the colour that serves).
	HPAs map[string]string
	// Config are each colour's copies of the chart's ConfigMaps and Secrets, as applied.
	Config map[strategy.Color][]string
}

// ReadLayout reads a manifest (rendered, or as a revision applied it).
func ReadLayout(manifest string) (Layout, error) {
	l := Layout{Colored: map[strategy.Color][]string{}, Deployments: map[strategy.Color][]string{}, HPAs: map[string]string{}, Config: map[strategy.Color][]string{}}
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return l, err
	}
	previews := map[string]bool{}
	var services []string
	for _, r := range resources {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return l, fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		switch {
		case strings.HasPrefix(r.APIVersion, "apps/") && r.Kind == "Deployment":
			meta, _ := obj["metadata"].(map[string]any)
			lbls, _ := meta["labels"].(map[string]any)
			if c, _ := lbls[ColorLabel].(string); c == string(Blue) || c == string(Green) {
				l.Colored[strategy.Color(c)] = append(l.Colored[strategy.Color(c)], r.Raw)
				l.Deployments[strategy.Color(c)] = append(l.Deployments[strategy.Color(c)], r.Name)
			} else {
				l.Plain = append(l.Plain, r.Name)
			}
		case strings.HasPrefix(r.APIVersion, "apps/") && (r.Kind == "StatefulSet" || r.Kind == "DaemonSet"):
			l.Uncolorable = append(l.Uncolorable, r.Kind+"/"+r.Name)
		case rewrite.IsConfig(r.Kind, r.APIVersion):
			meta, _ := obj["metadata"].(map[string]any)
			lbls, _ := meta["labels"].(map[string]any)
			if c, _ := lbls[ColorLabel].(string); c == string(Blue) || c == string(Green) {
				l.Config[strategy.Color(c)] = append(l.Config[strategy.Color(c)], r.Raw)
			}
		case r.Kind == "HorizontalPodAutoscaler" && strings.HasPrefix(r.APIVersion, "autoscaling/"):
			t := hpaTarget(obj)
			for _, c := range []strategy.Color{Blue, Green} {
				if base, ok := strings.CutSuffix(t, "-"+string(c)); ok {
					l.HPAs[r.Name] = base
				}
			}
		case r.Kind == "Service" && r.APIVersion == "v1" && rewrite.HasSelector(obj):
			spec := obj["spec"].(map[string]any)
			if _, ok := spec["selector"].(map[string]any)[ColorLabel]; ok && strings.HasSuffix(r.Name, PreviewSuffix) {
				previews[r.Name] = true
			}
			services = append(services, r.Name)
		}
	}
	for _, s := range services {
		if !previews[s] {
			l.Services = append(l.Services, s)
		}
	}
	return l, nil
}

// IsBlueGreen reports whether the layout is a blue-green release's.
func (l Layout) IsBlueGreen() bool { return len(l.Colored) > 0 }

// hpaTarget is the name of the Deployment an HPA document scales ("" for another kind).
func hpaTarget(obj map[string]any) string {
	spec, _ := obj["spec"].(map[string]any)
	ref, _ := spec["scaleTargetRef"].(map[string]any)
	if kind, _ := ref["kind"].(string); kind != "Deployment" {
		return ""
	}
	name, _ := ref["name"].(string)
	return name
}

// scalesDeployment reports whether an HPA document scales one of the manifest's Deployments.
func scalesDeployment(obj map[string]any, resources []release.Resource) bool {
	t := hpaTarget(obj)
	for _, r := range resources {
		if r.Kind == "Deployment" && strings.HasPrefix(r.APIVersion, "apps/") && r.Name == t && t != "" {
			return true
		}
	}
	return false
}
