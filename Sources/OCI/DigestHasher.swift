internal import CCrypto

/// A streaming SHA-256 or SHA-512 over OpenSSL's EVP interface.
///
/// Owns its `EVP_MD_CTX`; use it from one task at a time.
public final class DigestHasher {
    private let context: OpaquePointer
    /// The algorithm this hasher computes.
    public let algorithm: Digest.Algorithm
    /// How many bytes went in so far.
    public private(set) var count: Int64 = 0

    /// A fresh hasher.
    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        // EVP_MD_CTX_new only fails when out of memory: nothing sensible can follow that.
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        let md = algorithm == .sha256 ? EVP_sha256() : EVP_sha512()
        EVP_DigestInit_ex(context, md, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
        count += Int64(bytes.count)
    }

    /// Adds bytes.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything added; the hasher must not be used afterwards.
    public func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Digest(algorithm: algorithm, bytes: out.prefix(Int(length)))
    }
}
