// The pulumi-kubernetes provider's own main (pulumi/pulumi-kubernetes@v4.25.0:
// provider/cmd/pulumi-resource-kubernetes/main.go), in a wrapper module: upstream's main embeds
// schema-embed.json and terraform-mapping-embed.json, which its Makefile copies from the committed schema.json
// and terraform-mapping.json before `go build`. tools/toolchain.py copies the same two files out of the
// provider module (the exact version go.sum pins) into this directory before building; they are not committed.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

var providerName = "kubernetes"

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve(providerName, version.Version, pulumiSchema, terraformMapping)
}
