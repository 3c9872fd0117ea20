// The KilnA64 module; see docs/ARCHITECTURE.md.
