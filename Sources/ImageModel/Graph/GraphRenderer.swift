import Foundation
import OCI

/// Renders a component graph for people (an indented tree) and for tools (DOT, Mermaid).
public struct GraphRenderer: Sendable {
    /// The graph.
    public var graph: ComponentGraph
    /// Locked bytes per component, when a lock exists.
    public var sizes: [ComponentKind: Int64]

    /// A renderer.
    public init(graph: ComponentGraph, sizes: [ComponentKind: Int64] = [:]) {
        self.graph = graph
        self.sizes = sizes
    }

    func label(_ node: ComponentNode) -> String {
        let size = sizes[node.kind].map { "  [\(ByteCount.text($0))]" } ?? ""
        return "\(node.kind) \(node.label)\(size)"
    }

    /// An indented tree from the image down: each component under what needs it; a component
    /// met a second time is shown once more without its subtree.
    public func tree(title: String) -> String {
        var lines = [title]
        var shown = Set<ComponentKind>()
        func walk(_ kind: ComponentKind, prefix: String, isLast: Bool, constraint: String?) {
            guard let node = graph.node(kind) else { return }
            let branch = isLast ? "└─ " : "├─ "
            let note = constraint.map { "  (\($0))" } ?? ""
            let repeated = shown.contains(kind)
            lines.append(prefix + branch + label(node) + note + (repeated && !graph.dependencies(of: kind).isEmpty ? "  …" : ""))
            guard !repeated else { return }
            shown.insert(kind)
            let children = graph.dependencies(of: kind).sorted { $0.to > $1.to }
            for (i, edge) in children.enumerated() {
                walk(edge.to, prefix: prefix + (isLast ? "   " : "│  "), isLast: i == children.count - 1, constraint: edge.constraint)
            }
        }
        // The roots are what nothing else needs: the top of the image.
        let roots = graph.nodes.filter { node in !graph.edges.contains { $0.to == node.kind } }.sorted { $0.kind > $1.kind }
        for (i, root) in roots.enumerated() { walk(root.kind, prefix: "", isLast: i == roots.count - 1, constraint: nil) }
        return lines.joined(separator: "\n")
    }

    /// Graphviz DOT.
    public func dot(name: String) -> String {
        var out = ["digraph \"\(name)\" {", "  rankdir=LR;", "  node [shape=box];"]
        for node in graph.nodes {
            out.append("  \(node.kind.rawValue) [label=\"\(escape(label(node)))\"];")
        }
        for edge in graph.edges {
            out.append("  \(edge.from.rawValue) -> \(edge.to.rawValue) [label=\"\(escape(edge.constraint))\"];")
        }
        out.append("}")
        return out.joined(separator: "\n")
    }

    /// A Mermaid flowchart.
    public func mermaid() -> String {
        var out = ["flowchart LR"]
        for node in graph.nodes {
            out.append("  \(node.kind.rawValue)[\"\(label(node).replacingOccurrences(of: "\"", with: "'"))\"]")
        }
        for edge in graph.edges {
            out.append("  \(edge.from.rawValue) -->|\"\(edge.constraint.replacingOccurrences(of: "\"", with: "'"))\"| \(edge.to.rawValue)")
        }
        return out.joined(separator: "\n")
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
