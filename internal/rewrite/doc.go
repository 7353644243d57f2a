// Package rewrite reads and rewrites a chart's rendered manifest as documents of plain maps:
// the helpers the strategies' post-renderers share (paths into an object, a Service's twin,
// the config a pod template reads and its versioned copies, replicas and the HPAs that own
// them, the config stamp that rolls pods when only their config changed).
package rewrite
