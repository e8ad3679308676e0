import ArgumentParser
import ImageGen

/// The `imagegen` command line: a thin layer that parses flags and calls the library.
@main
struct ImageGenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imagegen",
        abstract: "Build reproducible PyTorch-CUDA container images without a Docker daemon.",
        discussion: """
            imagegen writes OCI images bit for bit reproducibly: sorted tar entries, fixed \
            timestamps (SOURCE_DATE_EPOCH), canonical JSON. Human output goes to stderr, \
            machine output (--json) to stdout.

            Exit codes: 0 success; 1 the operation failed or verify found problems; \
            64 bad usage (unknown flag, bad value).
            """,
        version: ImageGenVersion.current,
        subcommands: [
            BuildCommand.self, LockCommand.self, GraphCommand.self, ExplainCommand.self, CheckHostCommand.self, PackCommand.self, VerifyCommand.self,
            DockerfileCommand.self, BakeCommand.self,
            PushCommand.self, PullCommand.self, TagCommand.self, MirrorCommand.self, PlanCommand.self, UpdateCommand.self, NewCommand.self,
            RunCheckCommand.self, CatalogCommand.self, SBOMCommand.self, ProvenanceCommand.self,
        ]
    )
}

