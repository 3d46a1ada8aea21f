//go:build tools

// Keeps in this module's requirements what the tests build or read: the API server's main
// package, and the modules whose CustomResourceDefinitions the tests install as upstream ships
// them (mcs-api, serving v1alpha1 as Lighthouse reads it; Submariner's Gateway).
package tools

import (
	_ "github.com/submariner-io/submariner/deploy/crds"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "sigs.k8s.io/mcs-api/config/crd"
)
