#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// The framing shared by Kiln's append-only files (identity index, codemaps): an 8-byte magic
/// naming the file kind, then frames of `[u32 payload length][u64 XXH3-64 of payload][payload]`.
///
/// Each frame is appended with one write(2) on an O_APPEND descriptor, so concurrent appenders
/// never interleave inside a frame. A crash can leave a torn last frame; readers stop at the
/// first frame that is short or fails its hash, and keep everything before it.
enum RecordLog {
    static let frameHeaderSize = 12
    /// Frames larger than this are treated as corruption (no writer produces them).
    static let maximumPayload = 1 << 24

    /// One frame around `payload`.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + frameHeaderSize)
        out.appendLittleEndian(UInt32(payload.count))
        out.appendLittleEndian(XXH3.hash64(payload))
        out += payload
        return out
    }

    /// The payloads of all intact frames after `magic`, and whether the file ended cleanly.
    /// A file with another magic yields nothing and `clean == false`.
    static func payloads(in bytes: [UInt8], magic: [UInt8]) -> (payloads: [ArraySlice<UInt8>], clean: Bool) {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else { return ([], false) }
        var result: [ArraySlice<UInt8>] = []
        var offset = magic.count
        while offset < bytes.count {
            guard bytes.count - offset >= frameHeaderSize else { return (result, false) }
            let length = Int(readLE32(bytes, offset))
            let hash = readLE64(bytes, offset + 4)
            let start = offset + frameHeaderSize
            guard length <= maximumPayload, bytes.count - start >= length else { return (result, false) }
            let payload = bytes[start..<(start + length)]
            guard payload.withUnsafeBytes({ XXH3.hash64($0) }) == hash else { return (result, false) }
            result.append(payload)
            offset = start + length
        }
        return (result, true)
    }

    /// Opens `path` for appending, creating it (mode 0600, with `magic`) if needed.
    static func openForAppend(path: String, magic: [UInt8]) -> Result<Int32, Errno> {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return .failure(Errno(code: errno)) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = errno; close(fd); return .failure(Errno(code: e)) }
        if st.st_size == 0 {
            // Several processes may create the file at once: the first to take the lock
            // writes the magic, the others see a non-empty file and append after it.
            flock(fd, LOCK_EX)
            var again = stat()
            if fstat(fd, &again) == 0, again.st_size == 0 {
                if let e = magic.withUnsafeBytes({ Descriptor.write(fd, $0) }) { flock(fd, LOCK_UN); close(fd); return .failure(Errno(code: e)) }
            }
            flock(fd, LOCK_UN)
        }
        return .success(fd)
    }
}

@inline(__always) func readLE32<C: RandomAccessCollection>(_ bytes: C, _ offset: Int) -> UInt32 where C.Element == UInt8, C.Index == Int {
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(bytes[bytes.startIndex + offset + i]) << (8 * UInt32(i)) }
    return v
}

@inline(__always) func readLE64<C: RandomAccessCollection>(_ bytes: C, _ offset: Int) -> UInt64 where C.Element == UInt8, C.Index == Int {
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(bytes[bytes.startIndex + offset + i]) << (8 * UInt64(i)) }
    return v
}
