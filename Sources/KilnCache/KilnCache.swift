// The KilnCache module; see docs/ARCHITECTURE.md.
