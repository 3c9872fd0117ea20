// Rootfs support; see docs/ARCHITECTURE.md.
