// The KilnELF module; see docs/ARCHITECTURE.md.
