// The KilnIR module; see docs/ARCHITECTURE.md.
