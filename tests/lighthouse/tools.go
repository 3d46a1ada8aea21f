//go:build tools

// Keeps in this module's requirements the Lighthouse agent's main package, which build.sh builds
// at the version go.mod pins.
package tools

import (
	_ "github.com/submariner-io/lighthouse/pkg/agent"
)
