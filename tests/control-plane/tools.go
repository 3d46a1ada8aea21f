//go:build tools

// Keeps in this module's requirements what the tests build or read: the API server's and
// kubectl's main packages, and the modules whose CustomResourceDefinitions the tests install as upstream ships
// them (Submariner's Gateway; mcs-api's come with Lighthouse, from tests/lighthouse).
package tools

import (
	_ "github.com/submariner-io/submariner/deploy/crds"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
