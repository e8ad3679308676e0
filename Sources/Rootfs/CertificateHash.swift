internal import CCrypto

/// OpenSSL's subject-name hash of a certificate, the name of the `HASH.N` links that
/// `openssl rehash` (run by update-ca-certificates) makes in `/etc/ssl/certs` so that OpenSSL
/// finds a CA by its subject. Computed by libcrypto itself (`X509_subject_name_hash`: SHA-1 of
/// the canonical encoding of the subject), so it is the hash the container's OpenSSL looks for.
enum CertificateHash {
    /// The hash of the first certificate in `pem`, or nil when it holds none.
    static func subjectHash(pem: [UInt8]) -> UInt32? {
        pem.withUnsafeBytes { buffer -> UInt32? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else { return nil }
            defer { X509_free(certificate) }
            return UInt32(truncatingIfNeeded: X509_subject_name_hash(certificate))
        }
    }

    /// The link name for `hash` and collision index `index` (`002c0b4f.0`).
    static func linkName(_ hash: UInt32, index: Int) -> String {
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex + ".\(index)"
    }

    /// The links `openssl rehash` makes for certificates named `name` (a `.pem` file name) with
    /// contents: files in name order, the first of each hash `.0`, the next `.1`; a
    /// certificate identical to one already linked is skipped, as rehash skips duplicates.
    static func links(_ certificates: [(name: String, pem: [UInt8])]) -> [(link: String, target: String)] {
        var used: [UInt32: [[UInt8]]] = [:]
        var links: [(String, String)] = []
        for (name, pem) in certificates.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            guard let hash = subjectHash(pem: pem) else { continue }
            if used[hash, default: []].contains(pem) { continue }
            links.append((linkName(hash, index: used[hash, default: []].count), name))
            used[hash, default: []].append(pem)
        }
        return links
    }
}
