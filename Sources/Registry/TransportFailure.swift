import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// Why a request did not reach the registry, or its answer did not arrive whole: what a retry
/// may cure. Classified from the transport's error types once, where the error is caught,
/// never from their text.
public enum TransportFailure: Hashable, Sendable, CustomStringConvertible {
    /// Nothing listens on the port (ECONNREFUSED).
    case connectionRefused
    /// The connection was cut before the answer was complete.
    case connectionClosed
    /// The connection was made but no answer came within the read timeout.
    case readTimeout
    /// The connection could not be made within the connect timeout.
    case connectTimeout
    /// The TLS handshake failed for a reason other than a refused certificate.
    case tls(detail: String)
    /// The registry answered 5xx or 429.
    case status(Int, detail: String)
    /// An upload step did not complete (the registry's copy did not match, a session was lost…).
    case uploadInterrupted(String)
    /// Any other transport error, as the transport describes it.
    case other(String)

    /// The failure `error` stands for.
    public init(_ error: any Error) {
        switch error {
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: self = .connectionRefused
            case ECONNRESET, EPIPE: self = .connectionClosed
            case ETIMEDOUT: self = .connectTimeout
            default: self = .other("\(error)")
            }
        case let error as HTTPClientError:
            switch error {
            case .remoteConnectionClosed: self = .connectionClosed
            case .readTimeout: self = .readTimeout
            case .connectTimeout: self = .connectTimeout
            default: self = .other("\(error)")
            }
        case ChannelError.connectTimeout: self = .connectTimeout
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError: self = .tls(detail: "\(error)")
        default: self = .other("\(error)")
        }
    }

    public var description: String {
        switch self {
        case .connectionRefused: "connection refused"
        case .connectionClosed: "the connection was closed before the answer was complete"
        case .readTimeout: "no answer within the read timeout"
        case .connectTimeout: "could not connect within the timeout"
        case .tls(let detail): "TLS failed (\(detail.prefix(160))); for a plain-HTTP registry pass --insecure"
        case .status(let status, let detail): "HTTP \(status)" + (detail.isEmpty ? "" : " \(detail)")
        case .uploadInterrupted(let reason): reason
        case .other(let text): String(text.prefix(200))
        }
    }
}
