/// The cache as the runtime and `kiln bake` use it: one directory, one identity index, one
/// diagnostics record. Both go through `key(forFileAt:configuration:)`, which goes through
/// the one key function, so they always agree on names.
public final class CacheStore: @unchecked Sendable {
    public let directory: CacheDirectory
    public let identityIndex: IdentityIndex
    public let diagnostics: CacheDiagnostics
    /// What this host has; cache files needing more are rejected with `host-features`.
    public let hostFeatures: HostFeatures

    /// `persistIdentities: false` keeps computed identities in memory only (read-only users).
    public init(directory: CacheDirectory, hostFeatures: HostFeatures = HostFeatures.detect(),
                diagnostics: CacheDiagnostics = CacheDiagnostics(), persistIdentities: Bool = true) {
        self.directory = directory
        self.identityIndex = IdentityIndex(path: directory.identityIndexPath, persist: persistIdentities)
        self.diagnostics = diagnostics
        self.hostFeatures = hostFeatures
    }

    /// The key of the region backed by the ELF file at `path` under `configuration`.
    public func key(forFileAt path: String, configuration: TranslationConfiguration) throws -> CacheKey {
        let identity = try identityIndex.identity(ofFileAt: path)
        return cacheKey(identity: identity, configuration: configuration, baseName: path)
    }

    /// The validated cache file for the region at `path`, or nil with the reason counted in
    /// `diagnostics` (a file without a content identity counts as `missing`).
    public func attach(fileAt path: String, configuration: TranslationConfiguration) -> CacheFile? {
        let key: CacheKey
        do {
            key = try self.key(forFileAt: path, configuration: configuration)
        } catch {
            diagnostics.recordRejectedFile(path: path, CacheRejection(.missing, "\(path) has no content identity: \(error)"))
            return nil
        }
        return try? CacheFile.open(path: directory.filePath(for: key), expectedKey: key, hostFeatures: hostFeatures,
                                   diagnostics: diagnostics).get()
    }

    /// Builds and atomically publishes the cache file for `key`.
    @discardableResult
    public func publish(key: CacheKey, entries: [CacheEntryInput]) throws -> String {
        try CacheWriter(directory: directory).publish(CacheFileBuilder.build(key: key, entries: entries), name: key.fileName)
    }
}
