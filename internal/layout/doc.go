// Package layout holds the house to its shape: its tests read the import
// graph and the package docs (docs/architecture.md is the map they keep
// true).
package layout
