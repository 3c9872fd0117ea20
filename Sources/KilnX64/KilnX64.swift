// The KilnX64 module; see docs/ARCHITECTURE.md.
