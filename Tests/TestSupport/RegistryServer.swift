import Foundation
import Glibc

/// A real registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1, storing into a
/// scratch directory, optionally behind htpasswd (bcrypt) Basic auth, optionally over TLS.
/// Stopped when dropped.
public final class RegistryServer {
    /// `127.0.0.1:PORT`.
    public let address: String
    /// The port.
    public let port: Int
    /// The storage root.
    public let storage: String
    private let process: Process
    private let logFile: String

    /// Starts a registry under `directory` (created); with `user`, only that user and password
    /// are let in; with `tls`, it speaks HTTPS with that certificate and key (PEM files), and
    /// logs every request it receives and every failed handshake (see ``log``). Waits until it
    /// accepts connections.
    public init(directory: String, user: (name: String, password: String)? = nil, tls: ServerCertificate? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        storage = "\(directory)/storage"
        var lastError = ""
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            var config = """
                version: 0.1
                log:
                  level: \(tls == nil ? "error" : "info")
                  accesslog:
                    disabled: \(tls == nil)
                storage:
                  filesystem:
                    rootdirectory: \(directory)/storage
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:\(port)
                  secret: imagegen-test-secret

                """
            if let tls {
                config += """
                      tls:
                        certificate: \(tls.certificate)
                        key: \(tls.key)

                    """
            }
            if let user {
                let htpasswd = "\(directory)/htpasswd"
                let made = try run("htpasswd", ["-B", "-b", "-c", htpasswd, user.name, user.password])
                guard made.status == 0 else { throw RegistryServerError(message: "htpasswd failed: \(made.stderr)") }
                config += """
                    auth:
                      htpasswd:
                        realm: imagegen-test
                        path: \(htpasswd)

                    """
            }
            try writeFile("\(directory)/config.yml", config)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["docker-registry", "serve", "\(directory)/config.yml"]
            let log = FileHandle(forWritingAtPath: "/dev/null")
            _ = FileManager.default.createFile(atPath: "\(directory)/registry.log", contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: "\(directory)/registry.log") ?? log
            process.standardError = FileHandle(forWritingAtPath: "\(directory)/registry.log") ?? log
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline, process.isRunning {
                if canConnect(port: port) {
                    self.process = process
                    self.port = port
                    self.address = "127.0.0.1:\(port)"
                    self.logFile = "\(directory)/registry.log"
                    return
                }
                usleep(50_000)
            }
            lastError = (try? String(contentsOfFile: "\(directory)/registry.log", encoding: .utf8)) ?? ""
            Glibc.kill(process.processIdentifier, SIGKILL)
        }
        throw RegistryServerError(message: "docker-registry did not start: \(lastError)")
    }

    /// What the registry wrote so far; over TLS, one line per request it received (and its
    /// authorization), one per failed handshake (Go's `http: TLS handshake error`).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Stops the registry.
    public func stop() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
    }

    deinit { stop() }
}

/// The registry did not start.
public struct RegistryServerError: Error, CustomStringConvertible {
    /// Why.
    public var message: String
    public var description: String { message }

    /// An error saying why.
    public init(message: String) { self.message = message }
}

/// A port on 127.0.0.1 that was free a moment ago (bound to 0, read back, closed).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RegistryServerError(message: "socket failed") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw RegistryServerError(message: "bind failed") }
    return try boundPort(fd)
}

/// The port a socket is bound to.
func boundPort(_ fd: Int32) throws -> Int {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let got = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard got == 0 else { throw RegistryServerError(message: "getsockname failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `127.0.0.1:port` as a `sockaddr_in`.
func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

/// A connected socket to 127.0.0.1:port, or -1.
func connectLoopback(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if connected != 0 {
        close(fd)
        return -1
    }
    return fd
}

func canConnect(port: Int) -> Bool {
    let fd = connectLoopback(port: port)
    if fd >= 0 { close(fd) }
    return fd >= 0
}

/// `skopeo inspect` of a plain-HTTP reference: its manifest digest.
public func skopeoDigest(_ reference: String, creds: String? = nil) throws -> String {
    var arguments = ["inspect", "--tls-verify=false"]
    if let creds { arguments += ["--creds", creds] }
    let result = try run("skopeo", arguments + ["docker://\(reference)"])
    guard result.status == 0 else { throw RegistryServerError(message: "skopeo inspect \(reference): \(result.stderr)") }
    struct Inspect: Decodable { var Digest: String }
    return try JSONDecoder().decode(Inspect.self, from: Data(result.stdout.utf8)).Digest
}
