#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnELF
import KilnHost

/// Why the library closure of a program could not be computed.
public enum LibraryClosureError: Error, Equatable, CustomStringConvertible {
    case notFound(guestPath: String, rootfs: String)
    case notAnArm64ELF(path: String, reason: String)
    case missingLibrary(name: String, neededBy: String, searched: [String])

    public var description: String {
        switch self {
        case let .notFound(path, rootfs): return "\(path) not found in rootfs \(rootfs)"
        case let .notAnArm64ELF(path, reason): return "\(path) is not a 64-bit arm64 ELF file: \(reason)"
        case let .missingLibrary(name, neededBy, searched):
            return "\(name) (needed by \(neededBy)) not found; searched \(searched.joined(separator: ":"))"
        }
    }
}

/// One ELF object of a program's closure.
public struct ClosureObject: Equatable, Sendable {
    public enum Role: String, Sendable { case program, interpreter, library }
    public var role: Role
    /// The path the guest would open (inside the rootfs), after symlinks.
    public var guestPath: String
    /// The same file on the host.
    public var hostPath: String
    /// The DT_NEEDED name it was found by (nil for the program and interpreter).
    public var neededName: String?
}

/// Finds the objects ld.so would load for a program inside a rootfs: its PT_INTERP and the
/// DT_NEEDED closure, breadth first, searched as glibc's loader does — DT_RPATH (when there is
/// no DT_RUNPATH) of the object and of the program, DT_RUNPATH of the object, the directories
/// of the rootfs's /etc/ld.so.conf, then the default directories.
public struct LibraryClosure {
    public let rootfs: String
    /// Directories from /etc/ld.so.conf (with its `include` files), in order.
    public let configuredDirectories: [String]

    /// glibc's trusted directories for aarch64 Debian (multiarch first).
    public static let defaultDirectories = ["/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib"]

    public init(rootfs: String) {
        var root = rootfs
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.rootfs = root
        self.configuredDirectories = LibraryClosure.readLdSoConf(rootfs: root, path: "/etc/ld.so.conf", depth: 0)
    }

    /// The program, its interpreter (if dynamic) and every library it needs, in load order.
    public func closure(ofProgram guestPath: String) throws -> [ClosureObject] {
        guard let programPath = resolve(guestPath) else { throw LibraryClosureError.notFound(guestPath: guestPath, rootfs: rootfs) }
        let program = try load(programPath)
        var objects = [ClosureObject(role: .program, guestPath: programPath, hostPath: rootfs + programPath, neededName: nil)]
        var seen: Set<String> = [programPath]
        if let interpreter = try program.interpreterPath() {
            guard let path = resolve(interpreter) else { throw LibraryClosureError.notFound(guestPath: interpreter, rootfs: rootfs) }
            _ = try load(path)
            objects.append(ClosureObject(role: .interpreter, guestPath: path, hostPath: rootfs + path, neededName: nil))
            seen.insert(path)
        }
        let programDynamic = try program.dynamicInfo()
        var queue: [(file: ELFFile, path: String)] = [(program, programPath)]
        var loadedNames: Set<String> = []
        while !queue.isEmpty {
            let (file, path) = queue.removeFirst()
            guard let dynamic = try file.dynamicInfo() else { continue }
            for name in dynamic.needed where !loadedNames.contains(name) {
                let searched = searchDirectories(for: dynamic, objectPath: path, program: programDynamic, programPath: programPath)
                guard let found = try find(name, in: searched) else {
                    throw LibraryClosureError.missingLibrary(name: name, neededBy: path, searched: searched)
                }
                loadedNames.insert(name)
                guard seen.insert(found.path).inserted else { continue }
                objects.append(ClosureObject(role: .library, guestPath: found.path, hostPath: rootfs + found.path, neededName: name))
                queue.append((found.file, found.path))
            }
        }
        return objects
    }

    /// Search order for the DT_NEEDED entries of one object.
    func searchDirectories(for object: ELFDynamicInfo, objectPath: String, program: ELFDynamicInfo?, programPath: String) -> [String] {
        var directories: [String] = []
        if object.runpath.isEmpty {
            directories += object.rpath.flatMap { expand($0, origin: objectPath) }
            if let program, objectPath != programPath { directories += program.rpath.flatMap { expand($0, origin: programPath) } }
        }
        directories += object.runpath.flatMap { expand($0, origin: objectPath) }
        directories += configuredDirectories + Self.defaultDirectories
        var unique: [String] = []
        for directory in directories where !unique.contains(directory) { unique.append(directory) }
        return unique
    }

    /// A DT_RPATH/DT_RUNPATH entry: colon-separated, with $ORIGIN, $LIB and $PLATFORM.
    func expand(_ entry: String, origin objectPath: String) -> [String] {
        let origin = String(objectPath[..<(objectPath.lastIndex(of: "/") ?? objectPath.startIndex)])
        return entry.split(separator: ":").map { part in
            var path = String(part)
            for (token, value) in [("$ORIGIN", origin), ("${ORIGIN}", origin), ("$LIB", "lib"), ("${LIB}", "lib"),
                                   ("$PLATFORM", "aarch64"), ("${PLATFORM}", "aarch64")] {
                path = path.replacing(token, with: value)
            }
            return path
        }.filter { $0.hasPrefix("/") }
    }

    private func find(_ name: String, in directories: [String]) throws -> (path: String, file: ELFFile)? {
        if name.contains("/") {
            guard let path = resolve(name) else { return nil }
            return (path, try load(path))
        }
        for directory in directories {
            guard let path = resolve(directory + "/" + name) else { continue }
            // ld.so skips files of the wrong class or machine and keeps searching.
            if let file = try? load(path) { return (path, file) }
        }
        return nil
    }

    private func load(_ guestPath: String) throws -> ELFFile {
        let file: ELFFile
        do {
            file = try ELFFile(contentsOfFile: rootfs + guestPath)
        } catch {
            throw LibraryClosureError.notAnArm64ELF(path: guestPath, reason: "\(error)")
        }
        guard file.header.machine == .aarch64 else {
            throw LibraryClosureError.notAnArm64ELF(path: guestPath, reason: "machine \(file.header.machine.rawValue)")
        }
        return file
    }

    /// The guest path of `path` with every symlink followed inside the rootfs (absolute link
    /// targets are re-rooted), or nil when it does not exist there.
    public func resolve(_ path: String) -> String? {
        var pending = path.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." { _ = resolved.popLast(); continue }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            var info = stat()
            guard lstat(rootfs + candidate, &info) == 0 else { return nil }
            if info.st_mode & S_IFMT == S_IFLNK {
                links += 1
                guard links <= 40, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: rootfs + candidate) else { return nil }
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
            } else {
                resolved.append(component)
            }
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// Directories of an ld.so.conf file inside the rootfs, following `include` globs.
    static func readLdSoConf(rootfs: String, path: String, depth: Int) -> [String] {
        guard depth < 8, let text = try? String(contentsOfFile: rootfs + path, encoding: .utf8) else { return [] }
        var directories: [String] = []
        for rawLine in text.split(separator: "\n") {
            let line = (rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingWhitespace()
            if line.hasPrefix("include ") {
                let pattern = line.dropFirst("include ".count).trimmingWhitespace()
                let absolute = pattern.hasPrefix("/") ? pattern : HostPath.deletingLastComponent(path) + "/" + pattern
                for included in glob(rootfs: rootfs, pattern: absolute) {
                    directories += readLdSoConf(rootfs: rootfs, path: included, depth: depth + 1)
                }
            } else if line.hasPrefix("/") {
                directories.append(line)
            }
        }
        return directories
    }

    /// Guest paths matching a `dir/*.conf`-style pattern (a wildcard in the last component only).
    private static func glob(rootfs: String, pattern: String) -> [String] {
        let directory = HostPath.deletingLastComponent(pattern)
        let namePattern = HostPath.lastComponent(pattern)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: rootfs + directory) else { return [] }
        return names.filter { fnmatch(namePattern, $0, 0) == 0 }.sorted().map { directory + "/" + $0 }
    }
}
