// Package deploy holds no code of the service: it is the module of the
// tests that check blockd's deployable artifacts (the Dockerfile, the
// compose file and the Kubernetes manifests beside it) against the
// container and Kubernetes API types and against blockd's variables, so
// that their dependencies stay out of the service's go.mod.
package deploy
