/// The kinds of component an image is made of, in layer order (least to most often changed).
public enum ComponentKind: String, Hashable, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case base
    case driver
    case python
    case cuda
    case cudnn
    case nccl
    case torch
    case packages
    case tools
    case config

    /// Decodes the raw value, refusing any other in one line that lists the components.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let kind = ComponentKind(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not a component (expected one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")))"))
        }
        self = kind
    }

    /// The position in layer order.
    public var order: Int { Self.allCases.firstIndex(of: self)! }  // every case is in allCases

    public static func < (lhs: ComponentKind, rhs: ComponentKind) -> Bool { lhs.order < rhs.order }

    /// How people call it.
    public var description: String {
        switch self {
        case .base: return "base OS"
        case .driver: return "driver"
        case .python: return "Python"
        case .cuda: return "CUDA"
        case .cudnn: return "cuDNN"
        case .nccl: return "NCCL"
        case .torch: return "torch"
        case .packages: return "packages"
        case .tools: return "tools"
        case .config: return "config"
        }
    }
}

/// A node of the graph: one component, with the version it stands for.
public struct ComponentNode: Hashable, Sendable, Codable {
    /// Which component.
    public var kind: ComponentKind
    /// Its version or summary, e.g. `12.6 runtime`, `debian bookworm amd64`.
    public var label: String
}

/// A dependency edge: `from` needs `to`, under a constraint.
public struct ComponentEdge: Hashable, Sendable, Codable {
    /// The dependent.
    public var from: ComponentKind
    /// The dependency.
    public var to: ComponentKind
    /// The constraint, in words (`== 9.5.1.17`, `CUDA 12.0–12.9`).
    public var constraint: String
}

/// A directed graph of components. Edges point from a component to what it needs.
public struct ComponentGraph: Hashable, Sendable, Codable {
    /// The nodes, in layer order.
    public private(set) var nodes: [ComponentNode] = []
    /// The edges.
    public private(set) var edges: [ComponentEdge] = []

    /// An empty graph.
    public init() {}

    /// Adds a node (replacing one of the same kind).
    public mutating func add(_ kind: ComponentKind, _ label: String) {
        nodes.removeAll { $0.kind == kind }
        nodes.append(ComponentNode(kind: kind, label: label))
        nodes.sort { $0.kind < $1.kind }
    }

    /// Adds an edge; a second edge between the same two components adds its constraint to the first.
    public mutating func connect(_ from: ComponentKind, to: ComponentKind, _ constraint: String) {
        if let index = edges.firstIndex(where: { $0.from == from && $0.to == to }) {
            edges[index].constraint += "; " + constraint
        } else {
            edges.append(ComponentEdge(from: from, to: to, constraint: constraint))
        }
    }

    /// The node of a kind.
    public func node(_ kind: ComponentKind) -> ComponentNode? { nodes.first { $0.kind == kind } }

    /// What `kind` needs.
    public func dependencies(of kind: ComponentKind) -> [ComponentEdge] { edges.filter { $0.from == kind } }

    /// Checks that every edge ends at a node and that there is no cycle; returns the nodes in
    /// dependency order (dependencies first).
    public func validate() throws -> [ComponentKind] {
        for edge in edges where node(edge.to) == nil {
            throw GraphError.missingComponent(needed: edge.to, by: edge.from, constraint: edge.constraint)
        }
        var state: [ComponentKind: Bool] = [:]  // false: on the current path; true: done
        var order: [ComponentKind] = []
        func visit(_ kind: ComponentKind, path: [ComponentKind]) throws {
            if state[kind] == true { return }
            if state[kind] == false {
                let start = path.firstIndex(of: kind) ?? 0
                throw GraphError.cycle(Array(path[start...]) + [kind])
            }
            state[kind] = false
            for edge in dependencies(of: kind) { try visit(edge.to, path: path + [kind]) }
            state[kind] = true
            order.append(kind)
        }
        for node in nodes { try visit(node.kind, path: []) }
        return order
    }
}

/// Structural problems of a graph.
public enum GraphError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A component needs one the spec does not have.
    case missingComponent(needed: ComponentKind, by: ComponentKind, constraint: String)
    /// Components that need each other in a circle.
    case cycle([ComponentKind])

    public var description: String {
        switch self {
        case .missingComponent(let needed, let by, let constraint):
            return "\(by) needs a \(needed) component (\(constraint)), but the spec has none; add '\(needed.rawValue):'"
        case .cycle(let path):
            return "dependency cycle: " + path.map(\.description).joined(separator: " → ")
        }
    }
}
