// swift-tools-version: 6.0
// Kiln: run arm64 Linux programs on x86-64 Linux by dynamic binary translation,
// with ahead-of-time translation caches. See docs/ARCHITECTURE.md for the layout.
import PackageDescription

// Release builds drop the run-time exclusivity checks (swift_beginAccess and its access set
// cost 2-3% of a baked run, on every dispatcher lookup and cache entry's first use). Debug
// builds, which run the tests, keep them and so still catch any violation.
let releaseSpeed: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // ELF64 parsing: headers, segments, notes, dynamic section.
        .target(name: "KilnELF", swiftSettings: releaseSpeed),
        // Typed SSA IR, builder, verifier, printer, serialization, reference interpreter.
        .target(name: "KilnIR", swiftSettings: releaseSpeed),
        // AArch64 decoding (one table line per encoding) and lifting to KilnIR.
        .target(name: "KilnA64", dependencies: ["KilnIR"], swiftSettings: releaseSpeed),
        // x86-64 assembler (table-driven encodings), IR -> x86-64 lowering, register allocation.
        .target(name: "KilnX64", dependencies: ["KilnIR", "KilnHost"], swiftSettings: releaseSpeed),
        // The one translation pipeline (A64 -> IR -> x86-64) the JIT and `kiln bake` share.
        .target(name: "KilnTranslator", dependencies: ["KilnA64", "KilnIR", "KilnX64", "KilnCache"], swiftSettings: releaseSpeed),
        // The guest Linux process: loader, memory map, syscalls, dispatcher and execution tiers.
        .target(name: "KilnRuntime", dependencies: ["KilnA64", "KilnIR", "KilnELF", "KilnX64", "KilnTranslator", "KilnCache", "KilnHost"], swiftSettings: releaseSpeed),
        // The offline compiler: seeding, dependency closure, cache baking.
        .target(name: "KilnAOT", dependencies: ["KilnA64", "KilnIR", "KilnELF", "KilnCache", "KilnTranslator", "KilnX64", "KilnHost"], swiftSettings: releaseSpeed),
        // Translation cache storage: content identity, keys, file format, codemaps.
        .target(name: "KilnCache", dependencies: ["KilnELF", "KilnHost"], swiftSettings: releaseSpeed),
        // Measuring and checking runs: kiln bench's alternating runs and reports, kiln validate's comparisons.
        .target(name: "KilnBench", dependencies: ["KilnHost"]),
        // Building an arm64 Debian root filesystem with an isolated apt.
        .target(name: "KilnRootfs", dependencies: ["KilnHost"]),
        // What the tools need from the host beyond the standard library and FoundationEssentials
        // (so that no target links corelibs Foundation): child processes (posix_spawn), path
        // strings, printf numbers, whole reads and writes on a descriptor, the CPU's flags.
        .target(name: "KilnHost"),
        // The command-line tool.
        .executableTarget(
            name: "kiln",
            dependencies: [
                "KilnA64", "KilnAOT", "KilnBench", "KilnCache", "KilnELF", "KilnHost", "KilnIR", "KilnRootfs", "KilnRuntime", "KilnTranslator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Release builds link the Swift runtime and FoundationEssentials statically: loading
            // and relocating their shared libraries cost every `kiln run` ~5 ms before the guest
            // starts. No target imports corelibs Foundation: its CoreFoundation and ICU would
            // add ~1 ms more (__CFInitialize, ~40k relocations). Debug builds (and the tests)
            // keep the faster dynamic link.
            // They are also linked position-dependent, at 32 TiB: a PIE's ~42,000 relative
            // relocations took ld.so ~1 ms and ~150 copy-on-write faults per run. The address is
            // far above the guest's terabyte (GuestLayout) and below where the kernel maps
            // libraries and thread stacks; the Swift objects are PIC, so nothing needs the
            // low 2 GiB.
            // And with libstdc++ static: the Swift runtime needs it, and as a shared library
            // ld.so resolved ~1,800 of its symbol relocations at every start (1.7M instructions,
            // ~1 ms with its faults). The static-stdlib link options name -lstdc++ before any of
            // ours, so Toolchain/static-libstdcxx/libstdc++.so, a linker script found first on
            // the search path, turns that -lstdc++ into the archive (from libstdc++-dev, which
            // the dynamic link needs as well).
            swiftSettings: releaseSpeed + [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))],
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "-no-pie", "-Xlinker", "-Ttext-segment=0x200000000000",
                                           "-L" + Context.packageDirectory + "/Toolchain/static-libstdcxx"],
                                          .when(platforms: [.linux], configuration: .release))]
        ),

        // Shared by test targets only: locating the rootfs, fixtures and tools.
        .target(name: "KilnTestSupport", dependencies: ["KilnIR"], path: "Tests/KilnTestSupport"),
        .testTarget(name: "KilnELFTests", dependencies: ["KilnELF", "KilnTestSupport"]),
        .testTarget(name: "KilnIRTests", dependencies: ["KilnIR", "KilnTestSupport"]),
        .testTarget(
            name: "KilnA64Tests",
            dependencies: ["KilnA64", "KilnIR", "KilnELF", "KilnX64", "KilnTestSupport"],
            resources: [.copy("Vectors"), .copy("Golden")]
        ),
        // Golden files are read from the source tree (#filePath) so KILN_UPDATE_GOLDEN can rewrite them.
        .testTarget(name: "KilnX64Tests", dependencies: ["KilnX64", "KilnIR", "KilnTestSupport"], exclude: ["Golden"]),
        .testTarget(name: "KilnRuntimeTests", dependencies: ["KilnRuntime", "KilnELF", "KilnCache", "KilnTestSupport"]),
        .testTarget(name: "KilnAOTTests", dependencies: ["KilnAOT", "KilnA64", "KilnCache", "KilnELF", "KilnIR", "KilnTestSupport"]),
        .testTarget(name: "KilnCacheTests", dependencies: ["KilnCache", "KilnELF", "KilnTestSupport"]),
        .testTarget(name: "KilnBenchTests", dependencies: ["KilnBench", "KilnCache", "KilnHost", "KilnTestSupport"]),
        .testTarget(name: "KilnHostTests", dependencies: ["KilnHost"]),
        .testTarget(name: "KilnRootfsTests", dependencies: ["KilnRootfs", "KilnTestSupport"]),
        .testTarget(name: "FixtureTests", dependencies: ["KilnELF", "KilnTestSupport"]),
        .testTarget(name: "KilnToolTests", dependencies: ["kiln"]),
    ],
    swiftLanguageModes: [.v5]
)
