// The KilnRuntime module; see docs/ARCHITECTURE.md.
