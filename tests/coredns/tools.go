//go:build tools

// Keeps in this module's requirements the CoreDNS release the tests run as a cluster's DNS
// (its forward plugin sends the clusterset zone where the cluster's Corefile says).
package tools

import _ "github.com/coredns/coredns"
